import type pg from 'pg';
import { clientTx, type Tx, type UnitOfWorkContext } from '../db/index.ts';

/**
 * Runs `fn` in one transaction on a connection the caller holds (a rebuild's owner connection):
 * BEGIN, `fn` with a {@link Tx} over the connection, COMMIT; ROLLBACK and rethrow when anything throws.
 * Unlike `unitOfWork` it sets no role and no settings: statements run as the connection's own role
 * unless `fn` switches (`SET LOCAL ROLE`).
 */
export async function inTransaction<T>(client: pg.ClientBase, context: UnitOfWorkContext, fn: (tx: Tx) => Promise<T>): Promise<T> {
  await client.query('begin');
  try {
    const result = await fn(clientTx(client, context));
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  }
}
