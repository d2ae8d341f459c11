import type pg from 'pg';

/** One transaction on the provider's own pool (it is not a Brigade service: no role, no tenant). */
export async function inTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let result: T;
  try {
    await client.query('begin');
    result = await fn(client);
    await client.query('commit');
  } catch (error) {
    // A connection that cannot even roll back is destroyed, not reused.
    const failed = await client.query('rollback').then(() => undefined, (e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    client.release(failed);
    throw error;
  }
  client.release();
  return result;
}
