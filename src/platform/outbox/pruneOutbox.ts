import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type pg from 'pg';
import { sendBatch, type Statement } from '../db/index.ts';
import type { OutboxCheckpoint } from './claimOutboxBatch.ts';

/** What one prune pass may delete: published rows only, in the relay's order. */
export interface PruneBound {
  /**
   * Rows after this position: where an earlier pass of the same leader stopped (every row at or before
   * it is gone). The index scan starts there instead of walking the entries of rows deleted since
   * the last vacuum. Default: the start.
   */
  readonly after?: OutboxCheckpoint;
  /** Rows at or before this position (never past the relay's checkpoint: they are published). */
  readonly upTo: OutboxCheckpoint;
  /**
   * Absent: every row up to `upTo` goes (the relay knows they were published at least the retention
   * ago). Set: only the leading rows, in the relay's order, whose `created_at` is older than this many
   * ms; the pass stops at the first younger row (used for rows a previous leader published, whose
   * publishing time this relay does not know).
   */
  readonly createdMoreThanMsAgo?: number;
}

/** Options of {@link pruneOutbox}. */
export interface PruneOutboxOptions {
  /** Rows per DELETE. Each batch is its own statement (its own short transaction). Default 1000. */
  readonly batchSize?: number;
  /** Stops the pass before the next batch. */
  readonly signal?: AbortSignal;
}

/** What a prune pass did. */
export interface PruneResult {
  /** Rows deleted. */
  readonly count: number;
  /** The last row deleted, in the relay's order (every row up to it is gone); `null` when none was. */
  readonly through: OutboxCheckpoint | null;
}

/**
 * Deletes published rows of `bound` in batches of `batchSize`, each its own statement, walking
 * outbox_relay_order from `bound.after`; keeps going while a batch came back full, yielding to the
 * event loop between batches (on the relay's session, a claim queued meanwhile runs before the next
 * batch), and stops before the next batch when `signal` aborts.
 *
 * Each batch starts after the last row the previous one deleted, and every row it reads it deletes,
 * except with `createdMoreThanMsAgo`, where the last batch also reads up to `batchSize` rows it keeps.
 * So a pass costs what it deletes, however many rows the retention keeps (decision 0067).
 *
 * @example
 * const { count } = await pruneOutbox(client, 'delivery.outbox', { upTo: checkpointAnHourAgo }, { signal });
 */
export async function pruneOutbox(client: pg.ClientBase, table: string, bound: PruneBound, options: PruneOutboxOptions = {}): Promise<PruneResult> {
  const batchSize = options.batchSize ?? 1000;
  let count = 0;
  let through: OutboxCheckpoint | null = null;
  for (;;) {
    if (options.signal?.aborted === true) break;
    const batch = await pruneOutboxBatch(client, table, through ?? bound.after ?? START, bound, batchSize);
    count += batch.count;
    through = batch.through ?? through;
    if (batch.count < batchSize) break;
    await yieldToEventLoop();
  }
  return { count, through };
}

const START: OutboxCheckpoint = { transactionId: '0', id: '0' };

/**
 * Sent before each batch, in its transaction: read the outbox only by walking an index. The outbox's
 * RLS filter (`(select current_setting(…)) = 'system'`, true for the relay or false for everyone) is
 * costed as the default 0.5 % of rows, so the planner expects the page's LIMIT never to fill and prices
 * a whole-range read: with every row due it chose a Seq Scan and a sort of the table for each batch
 * (204,000 rows, 1,000 a batch: 41 ms a batch, against 2 ms walking outbox_relay_order; EXPLAIN ANALYZE,
 * PostgreSQL 15), which made a pass quadratic in what it deletes.
 */
const INDEX_ONLY: Statement = {
  name: 'brigade_prune_outbox_plan',
  text: `select set_config('enable_seqscan', 'off', true), set_config('enable_bitmapscan', 'off', true)`,
  resultless: true,
};

/**
 * One batch: one short transaction (the planner settings, then one statement), so its row locks and
 * its transaction id (which holds back every reader's horizon, decision 0011) last one batch. The ids
 * are read in index order between the bounds and then deleted by primary key (`id = any(array(…))`):
 * DELETE has no ORDER BY/LIMIT of its own.
 */
async function pruneOutboxBatch(client: pg.ClientBase, table: string, after: OutboxCheckpoint, bound: PruneBound, limit: number): Promise<PruneResult> {
  const head = `select id, transaction_id, created_at from ${table}
                 where (transaction_id, id) > ($1::xid8, $2::bigint) and (transaction_id, id) <= ($3::xid8, $4::bigint)
                 order by transaction_id, id limit $5`;
  // With an age: only the expired prefix of the page. bool_and over the relay's order turns false at
  // the first row inside the retention and stays false. Filtering the whole range on created_at
  // instead (not in the index) read every retained row on each prune, when fewer than a batch had expired.
  const ids =
    bound.createdMoreThanMsAgo === undefined
      ? `select id from (${head}) h`
      : `select id from (
           select id, bool_and(created_at < now() - make_interval(secs => $6::float8 / 1000)) over (order by transaction_id, id) as expired
             from (${head}) h
         ) p where expired`;
  const [, deleted] = await sendBatch(client, [
    INDEX_ONLY,
    {
      text: `with deleted as (delete from ${table} where id = any(array(${ids})) returning transaction_id, id)
     select (count(*) over ())::int as count, transaction_id::text as transaction_id, id::text as id
       from deleted order by deleted.transaction_id desc, deleted.id desc limit 1`,
      values: [after.transactionId, after.id, bound.upTo.transactionId, bound.upTo.id, limit, ...(bound.createdMoreThanMsAgo === undefined ? [] : [bound.createdMoreThanMsAgo])],
    },
  ]);
  const last = (deleted!.rows as Array<{ count: number; transaction_id: string; id: string }>)[0];
  return last === undefined ? { count: 0, through: null } : { count: last.count, through: { transactionId: last.transaction_id, id: last.id } };
}
