/**
 * A worker loop's trouble (database or broker down) as a process warning, at most once per
 * `intervalMs` (default a minute): the loop goes on retrying, and the log says so without flooding.
 *
 * @param what - who is in trouble, e.g. `ordering outbox relay`.
 * @param hint - what the operator can do, appended to the message.
 * @example
 * createRelay({ …, onProgress: (e) => e.kind === 'error' && warn(e.error) }) // warn = warnEveryMinute('ordering outbox relay')
 */
export function warnEveryMinute(what: string, hint = '', intervalMs = 60_000): (error: unknown) => void {
  let last = -Infinity;
  return (error) => {
    if (Date.now() - last < intervalMs) return;
    last = Date.now();
    process.emitWarning(`${what}: ${error instanceof Error ? error.message : String(error)}; retrying${hint === '' ? '' : ` (${hint})`}`);
  };
}
