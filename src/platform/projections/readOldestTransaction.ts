import type pg from 'pg';
import type { HorizonHolder } from './errors.ts';

/** What {@link readOldestTransaction} needs of a connection or transaction: one statement without values. */
interface Queryable {
  query<R extends pg.QueryResultRow>(text: string): Promise<pg.QueryResult<R>>;
}

/**
 * What holds the horizon (the oldest running transaction, below which a read of the log stops,
 * decision 0011): the running transaction with the oldest transaction id (taken at its first write,
 * not at BEGIN), other than the caller's, in any database of the cluster: a session's, from
 * `pg_stat_activity`, or a prepared (two-phase) one, from `pg_prepared_xacts`, which no session
 * holds and `pg_stat_activity` does not list. A session of another database names it (`otherDatabase`).
 * Null when no other transaction with an id is running.
 *
 * @example
 * const holder = await readOldestTransaction(client); // { pid: 4242, seconds: 73.5, state: 'idle in transaction', query: '…' }
 */
export async function readOldestTransaction(client: Queryable): Promise<HorizonHolder | null> {
  const { rows } = await client.query<{ pid: number | null; seconds: number; state: string | null; query: string | null; gid: string | null; database: string | null; owner: string | null }>(
    `select pid, seconds, state, query, gid, database, owner from (
       select pid, extract(epoch from now() - xact_start)::float8 as seconds, state, left(query, 120) as query,
              null::text as gid, nullif(datname::text, current_database()) as database, null::text as owner, age(backend_xid) as age
         from pg_stat_activity where backend_xid is not null and pid <> pg_backend_pid()
       union all
       select null, extract(epoch from now() - prepared)::float8, null, null, gid, database::text, owner::text, age(transaction)
         from pg_prepared_xacts) running
      order by age desc limit 1`,
  );
  const row = rows[0];
  if (row === undefined) return null;
  if (row.gid !== null) return { gid: row.gid, database: row.database ?? '', owner: row.owner ?? '', seconds: row.seconds };
  return { pid: row.pid as number, seconds: row.seconds, state: row.state, query: row.query, ...(row.database === null ? {} : { otherDatabase: row.database }) };
}
