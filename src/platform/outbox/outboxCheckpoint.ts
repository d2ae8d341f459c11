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
 * How far the checkpoint may move after publishing `published` out of `claimed` (both in claim order):
 * to the last row of the longest prefix of `claimed` that was published, or `null` when the first
 * claimed row was not. Rows published after a gap go out again next time; the broker dedupes them.
 */
export function publishedPrefixEnd(claimed: readonly OutboxRow[], published: readonly OutboxRow[]): OutboxCheckpoint | null {
  const done = new Set(published.map((r) => r.id));
  let end: OutboxRow | null = null;
  for (const row of claimed) {
    if (!done.has(row.id)) break;
    end = row;
  }
  return end === null ? null : { transactionId: end.transactionId, id: end.id };
}
