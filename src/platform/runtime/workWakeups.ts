/**
 * Process-local wake-ups of idle workers that poll a queue in the database (decision 0073): saga
 * runners, dispatch workers. A transaction that makes work due announces it under the queue's key once
 * it has committed (`tx.afterCommit(() => announceWork(key))`); one worker of that key that waits in
 * this process is woken, instead of finding the work at its next poll. An announcement with no worker
 * waiting is kept (up to {@link MAX_KEPT}) for the next worker that goes idle, so work committed
 * between a worker's empty claim and its wait is not left for the poll. Workers in other processes
 * still find the work at their poll: the poll stays.
 *
 * Workers of one key that claim from different databases (one saga store, the shared database's
 * runners and each dedicated database's, decision 0008) wait in groups, one per database: the
 * announcer does not know which database its transaction committed in (the tenant router chose), so
 * an announcement wakes one worker of each group (or is kept for the group), and the one whose
 * database has the work finds it. One group (`''`) when every worker claims from the same database.
 */

import { wakeableSleep, type WakeableSleep } from './wakeableSleep.ts';

/** Announcements kept per key and group while every worker of the group is busy: each costs at most one empty claim. */
const MAX_KEPT = 64;

interface Waiting {
  /** Idle workers' waits, longest waiting first. */
  readonly queue: WakeableSleep[];
  kept: number;
}

/** Per key, the groups of its workers (`''` unless they say otherwise), each with its waits. */
const byKey = new Map<string, Map<string, Waiting>>();

const groupsOf = (key: string): Map<string, Waiting> => {
  let groups = byKey.get(key);
  if (groups === undefined) byKey.set(key, (groups = new Map()));
  return groups;
};

const waitingIn = (key: string, group: string): Waiting => {
  const groups = groupsOf(key);
  let waiting = groups.get(group);
  if (waiting === undefined) groups.set(group, (waiting = { queue: [], kept: 0 }));
  return waiting;
};

/**
 * Wakes, in each group of `key`'s workers, the idle one that has waited longest, or keeps the
 * announcement for the group's next one. Before any worker of `key` has waited, it is kept for group `''`.
 *
 * @example
 * tx.afterCommit(() => announceWork('delivery.dispatch'));
 */
export function announceWork(key: string): void {
  const groups = groupsOf(key);
  if (groups.size === 0) waitingIn(key, '');
  for (const waiting of groups.values()) if (!wakeLongestWaiting(waiting)) waiting.kept = Math.min(MAX_KEPT, waiting.kept + 1);
}

/** Wakes the group's longest-waiting worker; `false` when none was waiting. */
function wakeLongestWaiting(waiting: Waiting): boolean {
  // A wait its poll or its abort has just ended is skipped: the announcement goes to a running one, or is kept.
  for (let next = waiting.queue.shift(); next !== undefined; next = waiting.queue.shift()) {
    if (next.wake()) return true;
  }
  return false;
}

/**
 * An idle worker's wait: resolves after `ms` (its poll), when `signal` aborts, or when work of `key` is
 * announced (at once if an announcement is kept for its group). `group` names the database the worker
 * claims from (e.g. `deps.placement ?? ''`) when workers of one key claim from several; default `''`.
 *
 * @example
 * if (nothingClaimed) await waitForWork('delivery.dispatch', 500, signal);
 */
export function waitForWork(key: string, ms: number, signal: AbortSignal, group = ''): Promise<void> {
  const waiting = waitingIn(key, group);
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
