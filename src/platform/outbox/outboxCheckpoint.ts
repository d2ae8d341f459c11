import type pg from 'pg';
import type { Statement } from '../db/index.ts';
import type { OutboxCheckpoint, OutboxRow } from './claimOutboxBatch.ts';

/** Reads the relay's checkpoint from `<schema>.outbox_state`, on the leader's session or in a unit of work. */
export async function readOutboxCheckpoint(db: { query(text: string): Promise<pg.QueryResult> }, state: string): Promise<OutboxCheckpoint> {
  const { rows } = await db.query(`select relayed_transaction_id::text as transaction_id, relayed_id::text as id from ${state}`);
  const row = rows[0] as { transaction_id: string; id: string } | undefined;
  return { transactionId: row?.transaction_id ?? '0', id: row?.id ?? '0' };
}

/**
 * The statement that moves the checkpoint to `to` (after the broker acked every row up to it): one
 * update of the one-row state table, whatever the batch size. Runs on the leader's session, sent with
 * the next claim.
 */
export function saveOutboxCheckpoint(state: string, to: OutboxCheckpoint): Statement {
  return {
    name: `brigade_relayed_${state.replace(/\W+/g, '_')}`,
    text: `update ${state} set relayed_transaction_id = $1::xid8, relayed_id = $2::bigint`,
    values: [to.transactionId, to.id],
  };
}

/**
 * What the checkpoint may move past after publishing `published` out of `claimed` (both in claim
 * order): the longest prefix of `claimed` that was published, empty when the first claimed row was not.
 * The checkpoint moves to its last row. Rows published after a gap go out again next time (the broker
 * dedupes them): they are not relayed yet, and count as published only when the prefix reaches them.
 */
export function publishedPrefix(claimed: readonly OutboxRow[], published: readonly OutboxRow[]): readonly OutboxRow[] {
  const done = new Set(published.map((r) => r.id));
  const end = claimed.findIndex((row) => !done.has(row.id));
  return end === -1 ? claimed : claimed.slice(0, end);
}
