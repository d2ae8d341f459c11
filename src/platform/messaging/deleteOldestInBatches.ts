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

/** What a retention delete walks: a table with an indexed age column, and the table whose rows keep one of its rows. */
export interface RetentionTable {
  /** The qualified table, e.g. `brigade_bus.messages`. */
  readonly table: string;
  /** Its primary-key column, e.g. `id`. */
  readonly key: string;
  /** Its age column, indexed, e.g. `published_at`. */
  readonly age: string;
  /**
   * The qualified table whose rows keep a row while one points at it, the column that holds the key,
   * and optionally which of its rows count (a condition on alias `r`, e.g. `r.released_at is null`).
   */
  readonly keptBy: { readonly table: string; readonly column: string; readonly where?: string };
}

/**
 * One batch of {@link deleteOldestInBatches} over `t`: the oldest rows past the minimum age that no
 * row of `t.keptBy` points at, walked in the age index's order from the cursor.
 *
 * - The "nothing points at it" test is a per-row probe of the referencing table's index (`offset 0`
 *   stops its conversion to an anti-join, which the planner hashed over a scan of the whole table
 *   while the tables were small or unanalysed).
 * - `for update skip locked`: two runs at once skip each other's rows. A writer that makes a row young
 *   again (moves its age column to now) while it is being deleted either waits and writes it anew, or,
 *   having written first, is seen here: the age is rechecked on the locked row.
 * - The delete finds the chosen rows by primary key (`= any (array(…))`, never a join the planner
 *   could turn into a scan).
 */
export function oldestUnreferencedSql(t: RetentionTable): string {
  return `with gone as (
  delete from ${t.table} t
  where t.${t.key} = any (array(
    select c.${t.key} from ${t.table} c
    where c.${t.age} < now() - make_interval(secs => $1::double precision / 1000)
      and c.${t.age} >= $2::timestamptz
      and not exists (select from ${t.keptBy.table} r where r.${t.keptBy.column} = c.${t.key}${t.keptBy.where === undefined ? '' : ` and ${t.keptBy.where}`} offset 0)
    order by c.${t.age}
    limit $3
    for update of c skip locked))
  returning t.${t.age} as age
)
select count(*)::int as deleted, max(age)::text as last from gone`;
}

/**
 * One batch of {@link deleteOldestInBatches} over a table whose key is two columns: the oldest rows
 * past the minimum age, walked in the age index's order from the cursor, deleted by their row address
 * (`ctid = any (array(…))`, a TID scan; `(a, b) in (…)` was hashed against a scan of the whole table).
 * The rows are locked by the same statement, so their address cannot change under it, and a writer
 * that makes a row young again while it is being deleted is seen on the locked row, as in
 * {@link oldestUnreferencedSql}.
 */
export function oldestByAddressSql(table: string, age: string): string {
  return `with gone as (
  delete from ${table} t
  where t.ctid = any (array(
    select c.ctid from ${table} c
    where c.${age} < now() - make_interval(secs => $1::double precision / 1000)
      and c.${age} >= $2::timestamptz
    order by c.${age}
    limit $3
    for update of c skip locked))
  returning t.${age} as age
)
select count(*)::int as deleted, max(age)::text as last from gone`;
}

/**
 * Runs one batch statement (an {@link oldestUnreferencedSql} or {@link oldestByAddressSql}) again and again while a batch comes back
 * full and `signal` is not aborted; returns how many rows went. The statement takes `$1` the minimum
 * age in ms, `$2` the cursor (a timestamptz: nothing older is left to look at in this run;
 * `-infinity` at first) and `$3` the batch size, and answers one row: `deleted` and `last`, the newest
 * age it deleted, as text (the server's own rendering, so the cursor keeps its microseconds).
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
