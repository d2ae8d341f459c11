/**
 * Process-local wake-ups of idle workers that poll a queue in the database (decision 0073): saga
 * runners, dispatch workers. A transaction that makes work due announces it under the queue's key once
 * it has committed (`tx.afterCommit(() => announceWork(key))`); one worker of that key that waits in
 * this process is woken, instead of finding the work at its next poll. An announcement with no worker
 * waiting is kept (up to {@link MAX_KEPT}) for the next worker that goes idle, so work committed
 * between a worker's empty claim and its wait is not left for the poll. Workers in other processes
 * still find the work at their poll: the poll stays.
 */

import { wakeableSleep, type WakeableSleep } from './wakeableSleep.ts';

/** Announcements kept per key while every worker is busy: each costs at most one empty claim. */
const MAX_KEPT = 64;

interface Waiting {
  /** Idle workers' waits, longest waiting first. */
  readonly queue: WakeableSleep[];
  kept: number;
}

const byKey = new Map<string, Waiting>();

const waitingIn = (key: string): Waiting => {
  let waiting = byKey.get(key);
  if (waiting === undefined) byKey.set(key, (waiting = { queue: [], kept: 0 }));
  return waiting;
};

/**
 * Wakes the idle worker of `key` that has waited longest, or keeps the announcement for the next one.
 *
 * @example
 * tx.afterCommit(() => announceWork('delivery.dispatch'));
 */
export function announceWork(key: string): void {
  const waiting = waitingIn(key);
  // A wait its poll or its abort has just ended is skipped: the announcement goes to a running one, or is kept.
  for (let next = waiting.queue.shift(); next !== undefined; next = waiting.queue.shift()) {
    if (next.wake()) return;
  }
  waiting.kept = Math.min(MAX_KEPT, waiting.kept + 1);
}

/**
 * An idle worker's wait: resolves after `ms` (its poll), when `signal` aborts, or when work of `key` is
 * announced (at once if an announcement is kept).
 *
 * @example
 * if (nothingClaimed) await waitForWork('delivery.dispatch', 500, signal);
 */
export function waitForWork(key: string, ms: number, signal: AbortSignal): Promise<void> {
  const waiting = waitingIn(key);
  if (waiting.kept > 0 || signal.aborted) {
    if (!signal.aborted) waiting.kept--;
    return Promise.resolve();
  }
  const pause = wakeableSleep(ms, signal);
  waiting.queue.push(pause);
  return pause.done.then(() => {
    const at = waiting.queue.indexOf(pause);
    if (at >= 0) waiting.queue.splice(at, 1);
  });
}
