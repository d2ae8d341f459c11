import pg from 'pg';
import type { Tx } from '../db/index.ts';
import type { GlobalPosition } from '../events/index.ts';
import type { Projection } from './types.ts';

/**
 * How long ago the first event after `after` in the global order was recorded, in seconds (the
 * database server's clock now less its `recorded_at`, also the server's: the caller's clock plays no
 * part), or null when the transaction's snapshot sees none: every committed event counts, also one that
 * a batch cannot read yet because an older transaction is still running (decision 0011). For a
 * projection at checkpoint `after`, the age of the oldest event it has not applied: its lag, whether
 * its batches fail, find nothing readable or are simply behind.
 *
 * Needs an actor that reads every tenant's events (kind `system` or `admin`). One step on
 * `events_global_order`.
 *
 * @example
 * const lagSeconds = await readOldestUnapplied(tx, board, await readCheckpoint(tx, board)); // 12.5, or null at the head
 */
export async function readOldestUnapplied(tx: Tx, projection: Pick<Projection, 'store'>, after: GlobalPosition): Promise<number | null> {
  const { rows } = await tx.query<{ seconds: number }>(
    `select greatest(0, extract(epoch from clock_timestamp() - e.recorded_at))::float8 as seconds from ${pg.escapeIdentifier(projection.store.schema)}.events e
      where (e.transaction_id, e.global_position) > ($1::xid8, $2::bigint)
      order by e.transaction_id, e.global_position
      limit 1`,
    [after.transactionId.toString(), after.position.toString()],
  );
  return rows[0]?.seconds ?? null;
}
