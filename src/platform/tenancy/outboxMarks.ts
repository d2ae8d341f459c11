import type pg from 'pg';
import type { OutboxCheckpoint } from '../outbox/claimOutboxBatch.ts';
import { compareOutboxPositions } from '../outbox/compareOutboxPositions.ts';
import { readOutboxCheckpoint } from '../outbox/outboxCheckpoint.ts';

/** Outbox schema → the last row, in the relay's `(transaction_id, id)` order, that its shared relay had not yet published when a tenant moved. */
export type OutboxMarks = Readonly<Record<string, OutboxCheckpoint>>;

/**
 * For each of `schemas` that has an outbox: the last row, in the relay's `(transaction_id, id)` order,
 * after the relay's checkpoint, i.e. the last message the relay has yet to publish; schemas whose relay
 * has published every row are left out. Read by a move (decision 0008) in its last statement before it
 * records the placement, as its own session, which bypasses Row-Level Security: every row the tenant
 * wrote there is visible by then (the fence waited for its transactions), and the relays of the tenant's
 * new database wait until the shared relay's checkpoint has passed the mark.
 */
export async function readOutboxMarks(db: Pick<pg.ClientBase, 'query' | 'escapeIdentifier'>, schemas: readonly string[]): Promise<OutboxMarks> {
  const { rows: found } = await db.query<{ schema: string }>(
    `select n.nspname as schema from pg_namespace n
      where n.nspname = any($1::text[]) and to_regclass(format('%I.outbox', n.nspname)) is not null and to_regclass(format('%I.outbox_state', n.nspname)) is not null
      order by n.nspname`,
    [schemas],
  );
  const marks: Record<string, OutboxCheckpoint> = {};
  for (const { schema } of found) {
    const s = db.escapeIdentifier(schema);
    const after = await readOutboxCheckpoint(db, `${s}.outbox_state`);
    // Bound values, both columns stated: a range of the relay-order index that the backward scan stops
    // at, not every published row still retained.
    const { rows } = await db.query<{ transaction_id: string; id: string }>(
      `select o.transaction_id::text as transaction_id, o.id::text as id from ${s}.outbox o
        where o.transaction_id >= $1::xid8 and (o.transaction_id, o.id) > ($1::xid8, $2::bigint)
        order by o.transaction_id desc, o.id desc limit 1`,
      [after.transactionId, after.id],
    );
    if (rows[0] !== undefined) marks[schema] = { transactionId: rows[0].transaction_id, id: rows[0].id };
  }
  return marks;
}

/** Whether a relay's checkpoint has passed `mark`: at or after it in the relay's order. */
export function checkpointPassed(checkpoint: OutboxCheckpoint, mark: OutboxCheckpoint): boolean {
  return compareOutboxPositions(checkpoint, mark) >= 0;
}
