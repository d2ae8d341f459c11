import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { UnavailableError } from '../errors/index.ts';

/** A PostgreSQL server running on a data directory, as its `postmaster.pid` describes it. */
export interface Postmaster {
  readonly pid: number;
  /** 0 while the server is starting and has not written it yet. */
  readonly port: number;
  /** `starting`, `ready`, `stopping` or `standby` (PostgreSQL writes it on the file's eighth line). */
  readonly status: string;
}

/**
 * The live server on the data directory `dir`, from its `postmaster.pid`, or `null`: no file (none
 * runs, or it shut down cleanly), or a file whose process is gone (a crash: PostgreSQL itself clears
 * the stale file on its next start) or, on Linux, is not PostgreSQL (its pid was reused after a crash
 * or a restart of the machine: see {@link removeReusedPostmasterPid}).
 */
export async function readPostmaster(dir: string): Promise<Postmaster | null> {
  const lines = await readPidFile(dir);
  if (lines === null) return null;
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !processIsAlive(pid) || (await runsPostgres(pid)) === false) return null;
  const port = Number(lines[3]);
  return { pid, port: Number.isInteger(port) ? port : 0, status: lines[7]?.trim() || 'starting' };
}

/**
 * Removes the `postmaster.pid` of `dir` when it names a live process that is not PostgreSQL (Linux
 * only; elsewhere this cannot tell, and does nothing). The server that wrote it ended without removing
 * it (killed, or the machine restarted) and its pid now belongs to another process. PostgreSQL clears
 * a stale file itself only when its pid is gone: a live one, whatever it runs, makes it refuse to
 * start. Answers the pid and what runs under it now, or null when there was nothing to remove.
 *
 * @throws {UnavailableError} while the shared memory the file names is still attached: processes of
 *   that server still run. This is PostgreSQL's own check on a stale file, which removing it skips.
 */
export async function removeReusedPostmasterPid(dir: string): Promise<{ pid: number; command: string } | null> {
  const lines = await readPidFile(dir);
  const pid = Number(lines?.[0]);
  if (lines === null || !Number.isInteger(pid) || pid <= 0 || !processIsAlive(pid)) return null;
  const command = await commandLine(pid);
  if (command === null || isPostgres(command)) return null;
  const file = path.join(dir, 'postmaster.pid');
  // Its seventh line: the key and id of the server's System V shared memory segment.
  const [key, id] = (lines[6] ?? '').trim().split(/\s+/);
  if (key !== undefined && id !== undefined && (await sharedMemoryAttached(key, id))) {
    throw new UnavailableError(
      `${file} names process ${pid}, which is no longer PostgreSQL, but processes of the server that wrote it still use its shared memory (key ${key}, id ${id}). ` +
        `Stop them (PostgreSQL processes whose working directory is ${dir}), then run the command again.`,
    );
  }
  await fs.rm(file, { force: true });
  return { pid, command: command.join(' ') };
}

/** The lines of `dir`'s `postmaster.pid`, or null when there is none. */
async function readPidFile(dir: string): Promise<string[] | null> {
  try {
    return (await fs.readFile(path.join(dir, 'postmaster.pid'), 'utf8')).split('\n');
  } catch {
    return null;
  }
}

/**
 * Whether process `pid` runs PostgreSQL, from its command line; null where this cannot tell (not
 * Linux, or its command line may not be read), which callers take as yes, as they did before.
 */
async function runsPostgres(pid: number): Promise<boolean | null> {
  const command = await commandLine(pid);
  return command === null ? null : isPostgres(command);
}

/** A server's command line: `…/bin/postgres -D …` (a backend's title, `postgres: …`, starts alike). */
function isPostgres(command: readonly string[]): boolean {
  return /^(postgres|postmaster)\b/.test(path.basename(command[0] ?? ''));
}

/**
 * The arguments process `pid` was started with (Linux: `/proc/<pid>/cmdline`); none for a process
 * that has none or has gone (a kernel thread, a zombie); null where this cannot tell.
 */
async function commandLine(pid: number): Promise<string[] | null> {
  if (process.platform !== 'linux') return null;
  try {
    return (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').filter((arg) => arg !== '');
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ENOENT' ? [] : null;
  }
}

/** Whether the System V shared memory segment `key`/`id` exists with processes attached (Linux: /proc/sysvipc/shm). */
async function sharedMemoryAttached(key: string, id: string): Promise<boolean> {
  const table = await fs.readFile('/proc/sysvipc/shm', 'utf8').catch(() => '');
  // Columns: key shmid perms size cpid lpid nattch …
  return table.split('\n').some((row) => {
    const cells = row.trim().split(/\s+/);
    return cells[0] === key && cells[1] === id && Number(cells[6]) > 0;
  });
}

/**
 * Waits until the server `pid` no longer runs on `dir` (its `postmaster.pid` is gone, or names another
 * process), polling every 50 ms for at most `timeoutMs`. Answers whether it ended. Polls the file
 * rather than waiting for the process: the server is not this process's child (see
 * `startEmbeddedPostgres`), and an exited one nobody reaps still answers `kill(pid, 0)`.
 */
export async function waitForPostmasterExit(dir: string, pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const running = await readPostmaster(dir);
    if (running === null || running.pid !== pid) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

/** Whether process `pid` exists on this machine (one of another user's, e.g. the `postgres` OS user's, counts). */
export function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
