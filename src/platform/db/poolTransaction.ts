import type pg from 'pg';

/**
 * Runs `fn` in one transaction on a connection of `pool`, as the pool's own role (no service role, no
 * tenant: for owners' work such as the dead letters, idempotent DDL, the payment provider stand-in's
 * own database): BEGIN, `fn`, COMMIT; ROLLBACK and rethrow when anything throws. A connection that
 * cannot even roll back is destroyed, not reused. Service work goes through `unitOfWork`.
 */
export async function poolTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let result: T;
  try {
    await client.query('begin');
    result = await fn(client);
    await client.query('commit');
  } catch (error) {
    const failed = await client.query('rollback').then(() => undefined, (e: unknown) => (e instanceof Error ? e : new Error(String(e))));
    client.release(failed);
    throw error;
  }
  client.release();
  return result;
}
