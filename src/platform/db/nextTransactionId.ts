import type pg from 'pg';

/**
 * Takes a fresh transaction id (xid8) in a transaction of its own and returns it: it is greater than
 * the id of every transaction that had one before the call, running or ended. Once the oldest running
 * transaction (`pg_snapshot_xmin`) is at or past it, every one of those has ended.
 *
 * Not `pg_snapshot_xmax(pg_current_snapshot())`: that is one past the newest *completed* id, and a
 * transaction that took its id after it and is still running sits at or above it.
 *
 * Run it on an idle connection: inside a caller's transaction it would return that transaction's id.
 */
export async function nextTransactionId(client: pg.ClientBase): Promise<bigint> {
  const { rows } = await client.query<{ id: string }>('select pg_current_xact_id()::text as id');
  return BigInt(rows[0]!.id);
}
