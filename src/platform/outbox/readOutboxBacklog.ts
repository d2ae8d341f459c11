import type { Statement, Tx } from '../db/index.ts';
import type { OutboxCheckpoint } from './claimOutboxBatch.ts';
import { readOutboxCheckpoint } from './outboxCheckpoint.ts';

/**
 * Where the depth gauge saturates: the count stops at this many rows, so a scrape during a long
 * broker outage reads at most this many index entries instead of the whole backlog.
 */
export const OUTBOX_DEPTH_CAP = 1_000_000;

/** An outbox's backlog as the metrics report it. */
export interface OutboxBacklog {
  /** Rows after the checkpoint, counted up to {@link OUTBOX_DEPTH_CAP}. */
  readonly depth: number;
  /** Age in seconds of the first row after the checkpoint in the relay's order; 0 when there is none. */
  readonly oldestAgeSeconds: number;
}

/**
 * The backlog statement for the checkpoint `after`. The checkpoint is a bound value, not a join with
 * `outbox_state`: the planner sees a range on outbox_relay_order (as the claim does) rather than a
 * nested loop under the estimate of an unanalysed one-row table (on 4,000 rows that estimate came to
 * 3.9 million, and JIT compiled the query at every scrape). Both ends of the range are stated: without
 * statistics the planner gives an open range a third of the table and, under the outbox's RLS filter,
 * counted it with a Seq Scan over every retained row; a closed range (its default 0.5 %) goes through
 * the index. The upper end never excludes a row: every row this snapshot sees was written by a
 * transaction below its xmax. The cap is a constant of the text, so even a generic plan knows it.
 *
 * The age is that of the first row in the relay's (transaction_id, id) order, one index probe, not
 * `min(created_at)` over the backlog: `created_at` is the producer's transaction start, and an earlier
 * position differs from the oldest row by at most how long a producer ran before it wrote.
 */
export function outboxBacklogStatement(table: string, after: OutboxCheckpoint): Statement {
  const range = `o.transaction_id >= $1::xid8 and o.transaction_id < pg_snapshot_xmax(pg_current_snapshot()) and (o.transaction_id, o.id) > ($1::xid8, $2::bigint)`;
  return {
    text: `select (select count(*) from (select 1 from ${table} o where ${range} limit ${OUTBOX_DEPTH_CAP}) b)::int as depth,
       coalesce((select greatest(0, extract(epoch from now() - o.created_at)) from ${table} o where ${range}
                  order by o.transaction_id, o.id limit 1), 0)::float8 as age`,
    values: [after.transactionId, after.id],
  };
}

/**
 * Reads the depth and oldest age of the outbox `table` (its checkpoint in `state`) in the caller's
 * transaction: the checkpoint first, then one statement after it.
 *
 * @example
 * const backlog = await unitOfWork(pool, { service, actor: { kind: 'system', id: 'outbox-metrics' }, readOnly: true }, (tx) =>
 *   readOutboxBacklog(tx, 'delivery.outbox', 'delivery.outbox_state'));
 */
export async function readOutboxBacklog(tx: Tx, table: string, state: string): Promise<OutboxBacklog> {
  const after = await readOutboxCheckpoint(tx, state);
  const { rows } = await tx.query<{ depth: number; age: number }>(outboxBacklogStatement(table, after));
  return { depth: rows[0]!.depth, oldestAgeSeconds: rows[0]!.age };
}
