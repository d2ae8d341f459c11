import type pg from 'pg';
import { unitOfWork } from '../db/index.ts';
import type { GlobalPosition } from '../events/index.ts';
import { comparePositions } from './position.ts';
import { readLogHead } from './readLogHead.ts';
import type { Projection } from './types.ts';
import { waitForPosition, type WaitForPositionOptions, type WaitResult } from './waitForPosition.ts';

/** The outcome of {@link waitForPositionOrHead}. */
export interface HeadBoundedWaitResult extends WaitResult {
  /** What the wait was for: `after`, or the database's head when that came first (`caughtUp` says whether the checkpoint reached it). */
  readonly target: GlobalPosition;
}

/**
 * Read-your-writes on ONE of several databases, for a position that may come from another one: reads
 * the head of the projection's log in the database of `pool` (the last event committed there, as the
 * projector's own actor reads the log: see `readLogHead`), then waits as {@link waitForPosition} does
 * until the checkpoint reaches `after` or that head, whichever comes first (positions compare as pairs,
 * transaction id first). If `after` was written in this database it is at or before the head, so the
 * wait is for `after` itself; if it was written elsewhere, the wait is at most for what this database
 * already held when it began, which its projector reaches without any new write. Run it on each
 * database a read covers: the read then holds `after` where it was written, and in the others
 * everything committed before the read began.
 *
 * @example
 * const waits = await Promise.all(pools.map((pool) => waitForPositionOrHead(pool, customerOrders, after, { timeoutMs: 2000 })));
 */
export async function waitForPositionOrHead(pool: pg.Pool, projection: Projection, after: GlobalPosition, options: WaitForPositionOptions = {}): Promise<HeadBoundedWaitResult> {
  const head = await unitOfWork(pool, { service: projection.service, readOnly: true, actor: { kind: 'system', id: `projection.${projection.name}` } }, (tx) => readLogHead(tx, projection));
  const target = comparePositions(head, after) < 0 ? head : after;
  const result = await waitForPosition(pool, projection, target, options);
  return { ...result, target };
}
