import type pg from 'pg';
import { busSchemaSql } from './busSchemaSql.ts';

/** Arbitrary but fixed: the advisory lock that serialises concurrent {@link ensureBusSchema} calls. */
const BUS_SCHEMA_LOCK = 0x6272_6275; // 'brbu'

/**
 * Creates the bus schema if it is missing. Safe when many processes start at once: the DDL runs in one
 * transaction under a transaction-level advisory lock (concurrent `create table if not exists` can
 * otherwise fail with a unique violation on the catalog).
 */
export async function ensureBusSchema(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query('select pg_advisory_xact_lock($1)', [BUS_SCHEMA_LOCK]);
    await client.query(busSchemaSql());
    await client.query('commit');
  } catch (error) {
    await client.query('rollback').catch(() => undefined);
    throw error;
  } finally {
    client.release();
  }
}
