import { wakeableSleep } from './wakeableSleep.ts';

/**
 * `work`'s answer, or `undefined` when `ms` pass or `signal` aborts first: for a read that may wait
 * without bound (for a connection of a pool others hold, or for a database that does not answer) and
 * must not hold its caller past a deadline. `work` goes on when it is no longer awaited; its failure
 * then concerns no one. A failure before the time is up is thrown as it came.
 *
 * @example
 * const checkpoint = await answerWithin(unitOfWork(pool, options, readCheckpoint), deadline - Date.now(), signal);
 * if (checkpoint === undefined) return lagging();
 */
export async function answerWithin<T>(work: Promise<T>, ms: number, signal?: AbortSignal): Promise<T | undefined> {
  work.catch(() => undefined);
  const bound = wakeableSleep(Math.max(0, ms), signal);
  try {
    return await Promise.race([work, bound.done.then(() => undefined)]);
  } finally {
    bound.wake();
  }
}
