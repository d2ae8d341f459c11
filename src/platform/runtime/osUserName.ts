import os from 'node:os';

/**
 * The name of the OS user this process runs as, else `env.USER` or `env.LOGNAME`, else undefined.
 * `os.userInfo()` throws (ENOENT) for a uid with no passwd entry, as a container run as a bare uid
 * (`runAsUser`) has: callers that only record who acted must not fail on it.
 *
 * @example
 * const by = osUserName(ctx.env) ?? `uid ${process.getuid?.()}`;
 */
export function osUserName(env: Readonly<Record<string, string | undefined>> = {}): string | undefined {
  let name: string | undefined;
  try {
    name = os.userInfo().username;
  } catch {
    name = env.USER ?? env.LOGNAME;
  }
  return name === undefined || name.trim() === '' ? undefined : name;
}
