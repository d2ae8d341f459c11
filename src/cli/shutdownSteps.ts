import type { CutPool } from '../platform/db/index.ts';
import { cutPoolAdvice } from './cutPoolAdvice.ts';
import type { Io } from './io.ts';

/** How long workers get to finish their current step after a shutdown signal. */
export const WORKER_STOP_MS = 10_000;

/**
 * Waits up to {@link WORKER_STOP_MS} for the stopped workers' `running` promises; when they have not
 * all ended by then, names those still in `pending` on stderr and answers false (the shutdown goes on
 * without them, and the exit is 1). `brigade start/serve/worker` and `brigade demo` stop their workers so.
 *
 * @example
 * if (!(await workersStopped(running, pending, io))) exitCode = 1;
 */
export async function workersStopped(running: ReadonlyArray<Promise<unknown>>, pending: ReadonlySet<string>, io: Pick<Io, 'err'>): Promise<boolean> {
  const stopped = await Promise.race([Promise.all(running).then(() => true), new Promise<false>((r) => setTimeout(() => r(false), WORKER_STOP_MS).unref())]);
  if (!stopped) io.err(`worker(s) ${[...pending].join(', ')} did not stop within ${WORKER_STOP_MS / 1000} s; closing anyway`);
  return stopped;
}

/**
 * Says on stderr, one line each ({@link cutPoolAdvice}), the pools whose connections a close had to
 * cut (`endPools`); whether there was any (the exit is then 1).
 */
export function saidCutPools(cut: readonly CutPool[], io: Pick<Io, 'err'>): boolean {
  for (const pool of cut) io.err(cutPoolAdvice(pool));
  return cut.length > 0;
}
