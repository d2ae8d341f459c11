import type pg from 'pg';
import type { OutboxCheckpoint } from './claimOutboxBatch.ts';

/**
 * Deletes up to `limit` published rows (at or before the checkpoint) written more than `retentionMs`
 * ago; returns how many. They are the oldest rows of the relay's order, so the scan walks
 * outbox_relay_order from its start.
 */
export async function pruneOutbox(client: pg.ClientBase, table: string, upTo: OutboxCheckpoint, retentionMs: number, limit = 10_000): Promise<number> {
  const { rowCount } = await client.query(
    `delete from ${table} where id = any(array(
       select id from ${table}
        where (transaction_id, id) <= ($1::xid8, $2::bigint) and created_at < now() - make_interval(secs => $3::float8 / 1000)
        order by transaction_id, id limit $4))`,
    [upTo.transactionId, upTo.id, retentionMs, limit],
  );
  return rowCount ?? 0;
}
