import pg from 'pg';
import { unitOfWork, type UnitOfWorkContext } from '../db/index.ts';

/**
 * About how many events the schema's log holds, for a rebuild's progress: the planner's estimate
 * (`reltuples` per page of the last ANALYZE, times the pages the table has now), free of any scan;
 * an exact `count(*)` (as `context`, under RLS) when the table was never analyzed. Why not always
 * count: on 240,000 events (127 MB) the count took 130–430 ms before the first page could be read.
 */
export async function estimateEvents(pool: pg.Pool, context: UnitOfWorkContext, schema: string): Promise<number> {
  const table = `${pg.escapeIdentifier(schema)}.events`;
  return unitOfWork(pool, context, async (tx) => {
    const { rows } = await tx.query<{ estimate: string | null }>(
      `select case when c.reltuples > 0 and c.relpages > 0
                   then round(c.reltuples / c.relpages * (pg_relation_size(c.oid) / current_setting('block_size')::int))::text end as estimate
         from pg_class c where c.oid = $1::regclass`,
      [table],
    );
    if (rows[0]?.estimate != null) return Number(rows[0].estimate);
    const counted = await tx.query<{ n: string }>(`select count(*)::text as n from ${table}`);
    return Number(counted.rows[0]?.n ?? 0);
  });
}
