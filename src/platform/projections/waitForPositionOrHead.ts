import type pg from 'pg';
import { unitOfWork } from '../db/index.ts';
import { boundedUntil } from '../db/localTimeouts.ts';
import { START, type GlobalPosition } from '../events/index.ts';
import { answerWithin } from '../runtime/answerWithin.ts';
import { comparePositions } from './position.ts';
import { readCheckpoint } from './readCheckpoint.ts';
import { readLogHeadOf } from './readLogHead.ts';
import type { Projection } from './types.ts';
import { waitForPosition, type WaitForPositionOptions, type WaitResult } from './waitForPosition.ts';

/**
 * Options of {@link waitForPositionOrHead}: those of {@link waitForPosition}. `checkpoint` spares the
 * wait its first read, and the wait for the position reuses it (no second read after the head's);
 * `boundedUntil` bounds the checkpoint's reads in the database (the head's read is bounded there by
 * `timeoutMs` in any case, see `readLogHeadOf`).
 */
export type HeadBoundedWaitOptions = WaitForPositionOptions;

/** The outcome of {@link waitForPositionOrHead}. */
export interface HeadBoundedWaitResult extends WaitResult {
  /** What the wait was for: `after`, or the database's head when that came first (`caughtUp` says whether the checkpoint reached it). */
  readonly target: GlobalPosition;
  /**
   * Whether this database's log reaches `after` (its checkpoint or its head is at or past it). `false`:
   * `after` lies past everything committed here, so it was not written here. `undefined`: the time ran
   * out (or `signal` aborted) before the head was read.
   */
  readonly reachesAfter: boolean | undefined;
}

/**
 * Read-your-writes on ONE of several databases, for a position that may come from another one. Reads
 * the projection's checkpoint there; if it is at or past `after`, that is all. Otherwise it reads the
 * head of the projection's log in that database (the last event committed there, as the projector's
 * own actor reads the log: see `readLogHead`), and waits as {@link waitForPosition} does until the
 * checkpoint reaches `after` or that head, whichever comes first (positions compare as pairs,
 * transaction id first). `timeoutMs` bounds the whole, the first checkpoint read and the head's read
 * included, and `signal` stops it, those reads included: a read that waits for a connection of a pool
 * others hold (or for a database that does not answer) holds no caller past the bound. A read the wait
 * no longer awaits ends on its own (in the database by `boundedUntil` when given).
 *
 * If `after` was written in this database it is at or before the head, so the wait is for `after`
 * itself; if it was written elsewhere, the wait is at most for what this database already held when
 * it began, which its projector reaches without any new write once the transactions that were running
 * in its cluster then have ended (the projector reads below the oldest of them, decision 0011). Run it
 * on each database a read covers: the read then holds `after` where it was written, and in the others
 * everything committed before the read began. If no database's log reaches `after` (`reachesAfter`),
 * it was written in none of them: the caller says the read lags (decision 0032).
 *
 * @example
 * const waits = await Promise.all(pools.map((pool) => waitForPositionOrHead(pool, customerOrders, after, { timeoutMs: 2000 })));
 * const lagging = waits.some((w) => !w.caughtUp) || !waits.some((w) => w.reachesAfter === true);
 */
export async function waitForPositionOrHead(pool: pg.Pool, projection: Projection, after: GlobalPosition, options: HeadBoundedWaitOptions = {}): Promise<HeadBoundedWaitResult> {
  const deadline = Date.now() + (options.timeoutMs ?? 2000);
  const checkpoint = options.checkpoint ?? (await answerWithin(unitOfWork(pool, { service: projection.service, readOnly: true }, (tx) => readCheckpoint(tx, projection), boundedUntil(options.boundedUntil)), deadline - Date.now(), options.signal));
  // No checkpoint by the deadline (every connection taken, a database that does not answer): nothing known.
  if (checkpoint === undefined) return { caughtUp: false, checkpoint: START, target: after, reachesAfter: undefined };
  if (comparePositions(checkpoint, after) >= 0) return { caughtUp: true, checkpoint, target: after, reachesAfter: true };
  // Behind: only now is the head worth its transaction.
  const head = await readLogHeadOf(pool, projection, { timeoutMs: deadline - Date.now(), ...(options.signal === undefined ? {} : { signal: options.signal }) });
  if (head === undefined) return { caughtUp: false, checkpoint, target: after, reachesAfter: undefined };
  const reachesAfter = comparePositions(head, after) >= 0;
  const target = reachesAfter ? after : head;
  if (comparePositions(checkpoint, target) >= 0) return { caughtUp: true, checkpoint, target, reachesAfter };
  // The checkpoint just read starts the wait: it wakes the leader at once instead of reading it again.
  const result = await waitForPosition(pool, projection, target, { ...options, checkpoint, timeoutMs: Math.max(0, deadline - Date.now()) });
  return { ...result, target, reachesAfter };
}
