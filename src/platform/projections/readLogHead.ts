import pg from 'pg';
import type { Tx } from '../db/index.ts';
import { START, type GlobalPosition } from '../events/index.ts';
import type { Projection } from './types.ts';

/**
 * The head of the projection's event log in this database: the position of the last event committed
 * and visible to the transaction's snapshot, or the start of the log when there is none. Unlike a page
 * of the global order it does not stop below the oldest running transaction: an event a command has
 * committed is at or before the head of its database, however far the projector's bound is behind.
 *
 * Needs a transaction whose actor reads every tenant's events (kind `system` or `admin`), as the
 * projector's own does (`runProjection`): any other sees only its tenant's, under row-level security.
 * One backward step on `events_global_order`.
 *
 * @example
 * const head = await unitOfWork(pool, { service: 'ordering', readOnly: true, actor: { kind: 'system', id: 'projection.board' } }, (tx) => readLogHead(tx, board));
 */
export async function readLogHead(tx: Tx, projection: Pick<Projection, 'store'>): Promise<GlobalPosition> {
  const { rows } = await tx.query<{ transaction_id: string; global_position: string }>(
    `select e.transaction_id::text as transaction_id, e.global_position::text as global_position
       from ${pg.escapeIdentifier(projection.store.schema)}.events e
      order by e.transaction_id desc, e.global_position desc
      limit 1`,
  );
  const row = rows[0];
  return row === undefined ? START : { transactionId: BigInt(row.transaction_id), position: BigInt(row.global_position) };
}
