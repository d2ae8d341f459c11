import type { Tx } from '../db/index.ts';
import { START, type GlobalPosition } from '../events/index.ts';
import { checkpointTable } from './defineProjection.ts';
import { comparePositions } from './position.ts';
import type { Projection } from './types.ts';

/**
 * Which build of a projection's view is live. A rebuild (`rebuildProjection`) swaps in rows that keep
 * the positions of their last events: a reader that follows the view by position (rows changed after
 * the last one it sent) is never sent them, so it watches {@link generation} and starts again when it
 * changes, and does not resume after a position {@link sentBeforeRebuild} says may be from the old view.
 */
export interface ViewGeneration {
  /** The projection's checkpoint, read in the same statement. */
  readonly checkpoint: GlobalPosition;
  /** Rebuilds swapped in since the checkpoint row was made: 0 for a view only the projector wrote. */
  readonly generation: bigint;
  /** The checkpoint the last rebuild's swap set; the start of the log when there was none. */
  readonly rebuiltAt: GlobalPosition;
}

/**
 * The projection's checkpoint and generation (see {@link ViewGeneration}), in one statement; a
 * projection with no checkpoint row yet is at the start of the log, generation 0.
 *
 * @example
 * const view = await readViewGeneration(tx, board);
 * // later, on each read: a rebuild since?
 * if ((await readViewGeneration(tx, board)).generation !== view.generation) startAgain();
 */
export async function readViewGeneration(tx: Tx, projection: Pick<Projection, 'schema' | 'name'>): Promise<ViewGeneration> {
  const { rows } = await tx.query<{ transaction_id: string; position: string; generation: string; rebuilt_transaction_id: string; rebuilt_position: string }>(
    `select transaction_id::text as transaction_id, position::text as position, generation::text as generation,
            rebuilt_transaction_id::text as rebuilt_transaction_id, rebuilt_position::text as rebuilt_position
       from ${checkpointTable(projection)} where name = $1`,
    [projection.name],
  );
  const row = rows[0];
  if (row === undefined) return { checkpoint: START, generation: 0n, rebuiltAt: START };
  return {
    checkpoint: { transactionId: BigInt(row.transaction_id), position: BigInt(row.position) },
    generation: BigInt(row.generation),
    rebuiltAt: { transactionId: BigInt(row.rebuilt_transaction_id), position: BigInt(row.rebuilt_position) },
  };
}

/**
 * Whether `position`, a position a reader of the view was sent (a Last-Event-ID), may come from the
 * view before its last rebuild: at or before the checkpoint the swap set. Every row of the old view
 * was at or before it; a reader that started after the swap starts at the checkpoint, which is past it
 * once anything was appended (until then its start is refused too: it only reloads once more).
 */
export function sentBeforeRebuild(position: GlobalPosition, view: ViewGeneration): boolean {
  return view.generation > 0n && comparePositions(position, view.rebuiltAt) <= 0;
}
