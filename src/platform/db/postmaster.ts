import fs from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

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
 * the stale file on its next start).
 */
export async function readPostmaster(dir: string): Promise<Postmaster | null> {
  let text: string;
  try {
    text = await fs.readFile(path.join(dir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0 || !processIsAlive(pid)) return null;
  const port = Number(lines[3]);
  return { pid, port: Number.isInteger(port) ? port : 0, status: lines[7]?.trim() || 'starting' };
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
