import pg from 'pg';
import type { Tx } from '../db/index.ts';
import type { FoldRead, GlobalPosition } from '../events/index.ts';
import { checkpointTable, qualifiedTable } from './defineProjection.ts';
import { ProjectionCheckpointMissingError } from './errors.ts';
import { handledEvents } from './handledEvents.ts';
import { notifyProjection } from './notifyProjection.ts';
import { ONE_DATABASE, readSharedPage, type SharedPageSource } from './sharedTail.ts';
import type { Projection, ViewRow } from './types.ts';

/** The channel that wakes a projection's leader from its idle wait, with payload `<schema>.<name>` (see `runProjection`). */
export const PROJECTION_WAKE_CHANNEL = 'brigade_projection_wake';

/** What one batch did. */
export interface BatchResult {
  /** Events read from the log (all types), 0 when the projection is at the head. */
  readonly read: number;
  /** The checkpoint after the batch. */
  readonly checkpoint: GlobalPosition;
  /** Rows the batch wrote (see {@link Projection.apply}). */
  readonly changes: readonly ViewRow[];
  /**
   * Age of the batch's last event when the batch ran, in seconds: the database server's clock less the
   * event's `recorded_at` (the projector's lag, whatever the host clocks say and whenever the event says
   * it occurred); null when nothing was read.
   */
  readonly lagSeconds: number | null;
}

/**
 * Makes sure the projection has a checkpoint row (at the start of the log when new), under the epoch
 * of the schema's other checkpoints: a new row under an older epoch would be served a shared tail
 * read before the last tenant move (see `readSharedPage`). The move locks the table before it changes
 * the epoch, so this insert waits for the move's commit and then reads the new epoch.
 */
export async function ensureCheckpoint(tx: Tx, projection: Projection): Promise<void> {
  const table = checkpointTable(projection);
  await tx.query(`insert into ${table} (name, epoch) select $1, coalesce(max(epoch), 0) from ${table} on conflict (name) do nothing`, [projection.name]);
}

/**
 * One batch, in the caller's transaction (actor kind `system`): locks the projection's checkpoint row,
 * reads up to `limit` events after it, applies them to `target` (default the live table) and advances
 * the checkpoint, so the writes and the checkpoint commit together or not at all. The row lock makes
 * batches of one projection strictly one after another whoever runs them (a second runner, a
 * rebuild's swap), so no event is applied twice even if two processes believed they led. One NOTIFY
 * per batch tells listeners (the live-board stream) to look. The events come from the store's tail
 * shared by this process's projections (`readSharedPage`): each event is read from the database once,
 * as fold events for a projection that reads only those (`reads: 'fold'`, decision 0070).
 *
 * `database`: what identifies the database `tx` runs on (its pool), so that the shared tail of one
 * database never serves a batch in another (a tenant's dedicated database, decision 0008). Callers
 * that only ever use one database may leave it out.
 *
 * The statement that locks the checkpoint row also reads its `epoch`, which the batch hands to the
 * shared tail: a tenant move changes it in the transaction that deletes the moved restaurant's rows,
 * and the tail then forgets the events it read before (see `readSharedPage`, `moveTenant`). The lock
 * is what makes that hold: the move waits for the batches that hold their row, and the batches that
 * lock it after the move has read the new epoch and see the database without the moved rows.
 */
export async function applyBatch(tx: Tx, projection: Projection, limit: number, options: { readonly database?: object; readonly target?: string } = {}): Promise<BatchResult> {
  const target = options.target ?? qualifiedTable(projection);
  const database = options.database ?? ONE_DATABASE;
  const table = checkpointTable(projection);
  const { rows } = await tx.query<{ transaction_id: string; position: string; epoch: string }>(
    `select transaction_id::text as transaction_id, position::text as position, epoch::text as epoch from ${table} where name = $1 for update`,
    [projection.name],
  );
  const row = rows[0];
  if (row === undefined) throw new ProjectionCheckpointMissingError(projection.name);
  const after: GlobalPosition = { transactionId: BigInt(row.transaction_id), position: BigInt(row.position) };
  const { page, handled, changes } = await readAndApply(tx, projection, after, limit, target, { database, epoch: BigInt(row.epoch) });
  if (page.events.length === 0) return { read: 0, checkpoint: after, changes: [], lagSeconds: null };
  // One round trip for both (the unit of work sends statements issued together as one batch). The
  // update also returns the lag: the age of the last event (the new checkpoint) on the server's clock,
  // which wrote its `recorded_at` (fold events carry no recorded time; one step on events_global_order).
  const [updated] = await Promise.all([
    tx.query<{ lag_seconds: number | null }>(
      `update ${table} set transaction_id = $2::xid8, position = $3::bigint, events_applied = events_applied + $4, updated_at = now() where name = $1
       returning (select greatest(0, extract(epoch from clock_timestamp() - e.recorded_at))::float8 from ${pg.escapeIdentifier(projection.store.schema)}.events e
                   where (e.transaction_id, e.global_position) = ($2::xid8, $3::bigint)) as lag_seconds`,
      [projection.name, page.checkpoint.transactionId.toString(), page.checkpoint.position.toString(), handled],
    ),
    notifyProjection(tx, projection, page.checkpoint),
  ]);
  return { read: page.events.length, checkpoint: page.checkpoint, changes, lagSeconds: updated.rows[0]?.lag_seconds ?? null };
}

/**
 * Reads the batch's page from the shared tail (fold events when the projection reads only those) and
 * applies the events the projection handles; `handled` counts them.
 */
async function readAndApply(tx: Tx, projection: Projection, after: GlobalPosition, limit: number, target: string, source: SharedPageSource): Promise<{ page: FoldRead; handled: number; changes: readonly ViewRow[] }> {
  if (projection.reads === 'fold') {
    const page = await readSharedPage(projection.store, projection.service, tx, after, limit, 'fold', source);
    const relevant = handledEvents(projection, page.events);
    return { page, handled: relevant.length, changes: relevant.length === 0 ? [] : await projection.apply(tx, relevant, target) };
  }
  const page = await readSharedPage(projection.store, projection.service, tx, after, limit, 'envelope', source);
  const relevant = handledEvents(projection, page.events);
  return { page, handled: relevant.length, changes: relevant.length === 0 ? [] : await projection.apply(tx, relevant, target) };
}
