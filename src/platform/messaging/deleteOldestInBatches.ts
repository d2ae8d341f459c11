import type pg from 'pg';

/** How a retention delete runs its batches ({@link pruneBus}, {@link purgeClaimChecks}). */
export interface BatchedDeleteOptions {
  /** Rows deleted per statement (each its own short transaction). */
  readonly batchSize?: number;
  /** Checked between batches: an abort ends the run after the batch in flight, whose rows stay deleted. */
  readonly signal?: AbortSignal;
  /** Called after each batch with how many rows it deleted: the progress of a long run. */
  readonly onBatch?: (deleted: number) => void;
}

/**
 * Runs one batch statement again and again while a batch comes back full and `signal` is not
 * aborted; returns how many rows went. The statement takes `$1` the minimum age in ms, `$2` the
 * cursor (a timestamptz: nothing older is left to look at in this run; `-infinity` at first) and `$3`
 * the batch size, and answers one row: `deleted` and `last`, the newest age it deleted, as text (the
 * server's own rendering, so the cursor keeps its microseconds).
 *
 * The cursor makes a run one pass over the old rows: rows that must stay (a subscription has not
 * settled them yet) are read once per run, not once per batch.
 */
export async function deleteOldestInBatches(pool: pg.Pool, sql: string, olderThanMs: number, batchSize: number, options: BatchedDeleteOptions): Promise<number> {
  const limit = Math.max(1, Math.floor(batchSize));
  let cursor = '-infinity';
  let total = 0;
  while (options.signal?.aborted !== true) {
    const { rows } = await pool.query<{ deleted: number; last: string | null }>(sql, [olderThanMs, cursor, limit]);
    const { deleted, last } = rows[0]!;
    total += deleted;
    options.onBatch?.(deleted);
    if (deleted < limit || last === null) break;
    cursor = last;
  }
  return total;
}
