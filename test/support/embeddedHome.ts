import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { brigadeBin, repoRoot } from './cli.ts';

/** A `brigade` command that serves (start, serve), once it is up. */
export interface ServingBrigade {
  readonly child: ChildProcessWithoutNullStreams;
  /** Where its HTTP API listens, e.g. `http://127.0.0.1:41234`. */
  readonly base: string;
  /** The embedded PostgreSQL's port, as it printed it (NaN on a DATABASE_URL). */
  readonly port: number;
  /** Its exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>;
  /** What it printed so far, stdout and stderr. */
  output(): string;
  /** Sends `signal` and waits for the exit code. */
  stop(signal: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `brigade …args` on the embedded database under `home` (no DATABASE_URL, PORT 0) and waits until
 * it has printed its addresses and "Press Ctrl+C". With `ownGroup` it leads a process group of its
 * own, as a terminal's foreground job does.
 */
export function serveOnEmbedded(home: string, args: readonly string[], options: { ownGroup?: boolean } = {}): Promise<ServingBrigade> {
  return serveBrigade(args, { BRIGADE_HOME: home, PORT: '0' }, options);
}

/**
 * Runs `brigade …args` with `env` (plus PATH, HOME and LOG_LEVEL=warn unless given) and waits until it
 * has printed its addresses and "Press Ctrl+C"; an exit before that throws with what it printed.
 */
export async function serveBrigade(args: readonly string[], env: Record<string, string>, options: { ownGroup?: boolean } = {}): Promise<ServingBrigade> {
  const child = spawn(process.execPath, [brigadeBin, ...args], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', ...env },
    detached: options.ownGroup === true,
  });
  let out = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (out += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const up = await Promise.race([
    new Promise<true>((resolve) => child.stdout.on('data', () => /API\s+http:\/\/\S+\/v1/.test(out) && out.includes('Press Ctrl+C') && resolve(true))),
    exited.then((code) => code),
  ]);
  if (up !== true) throw new Error(`brigade ${args.join(' ')} exited ${up}:\n${out}`);
  const base = /API\s+(http:\/\/\S+)\/v1/.exec(out)?.[1] ?? '';
  const port = Number(/embedded PostgreSQL on port (\d+)/.exec(out)?.[1]);
  return { child, base, port, exited, output: () => out, stop: (signal) => (child.kill(signal), exited) };
}

/** A new BRIGADE_HOME, removed by `cleanUp`. PostgreSQL runs as the `postgres` OS user when the tests run as root: it is let in. */
export async function newBrigadeHome(prefix: string): Promise<{ readonly home: string; cleanUp(): Promise<void> }> {
  const home = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  await fs.chmod(home, 0o755);
  return {
    home,
    cleanUp: async () => {
      // A PostgreSQL a failed test left running: stop it (fast shutdown) before removing its directory.
      const pid = await postmasterPid(home);
      if (pid !== null) {
        try {
          process.kill(pid, 'SIGINT');
        } catch {
          // already gone
        }
        for (let i = 0; i < 200 && (await postmasterPid(home)) !== null; i++) await new Promise((r) => setTimeout(r, 50));
      }
      await fs.rm(home, { recursive: true, force: true });
    },
  };
}

/** The pid of the embedded PostgreSQL running under `home` (from its postmaster.pid), or null. */
export async function postmasterPid(home: string): Promise<number | null> {
  const text = await fs.readFile(path.join(home, 'pg', 'postmaster.pid'), 'utf8').catch(() => null);
  return text === null ? null : Number(text.split('\n')[0]);
}

/** A session as the embedded server's superuser (the password is kept beside the data directory). */
export async function superuserSession(home: string, port: number): Promise<pg.Client> {
  const password = (await fs.readFile(path.join(home, 'pg.password'), 'utf8')).trim();
  const client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', password, database: 'postgres' });
  client.on('error', () => undefined);
  await client.connect();
  return client;
}
