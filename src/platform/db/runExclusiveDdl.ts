import type pg from 'pg';
import { poolTransaction } from './poolTransaction.ts';

/**
 * Runs idempotent DDL (`create … if not exists`) in one transaction under a transaction-level
 * advisory lock, so many processes starting at once cannot trip over each other: concurrent
 * `create table if not exists` otherwise fails with a unique violation on the catalog.
 *
 * @param lockKey - a fixed number per schema the DDL creates.
 */
export async function runExclusiveDdl(pool: pg.Pool, lockKey: number, ddl: string): Promise<void> {
  await poolTransaction(pool, async (client) => {
    await client.query('select pg_advisory_xact_lock($1)', [lockKey]);
    await client.query(ddl);
  });
}
