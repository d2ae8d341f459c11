import type pg from 'pg';
import type { BlockingSession } from './errors.ts';

/** What {@link readOldestTransaction} needs of a connection or transaction: one statement without values. */
interface Queryable {
  query<R extends pg.QueryResultRow>(text: string): Promise<pg.QueryResult<R>>;
}

/**
 * The session whose running transaction holds the horizon (the oldest running transaction, below
 * which a read of the log stops, decision 0011): the one with the oldest transaction id (taken at
 * its first write, not at BEGIN), other than the caller's, from `pg_stat_activity` (any database of
 * the cluster). Null when no other transaction with an id is running.
 *
 * @example
 * const holder = await readOldestTransaction(client); // { pid: 4242, seconds: 73.5, state: 'idle in transaction', query: '…' }
 */
export async function readOldestTransaction(client: Queryable): Promise<BlockingSession | null> {
  const { rows } = await client.query<BlockingSession>(
    `select pid, extract(epoch from now() - xact_start)::float8 as seconds, state, left(query, 120) as query
       from pg_stat_activity where backend_xid is not null and pid <> pg_backend_pid() order by age(backend_xid) desc limit 1`,
  );
  return rows[0] ?? null;
}
