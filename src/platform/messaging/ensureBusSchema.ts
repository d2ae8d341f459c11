import type pg from 'pg';
import { runExclusiveDdl } from '../db/index.ts';
import { busSchemaSql } from './busSchemaSql.ts';

/** Arbitrary but fixed: the advisory lock that serialises concurrent {@link ensureBusSchema} calls. */
const BUS_SCHEMA_LOCK = 0x6272_6275; // 'brbu'

/**
 * Creates the bus schema if it is missing. Safe when many processes start at once (see
 * {@link runExclusiveDdl}).
 */
export async function ensureBusSchema(pool: pg.Pool): Promise<void> {
  await runExclusiveDdl(pool, BUS_SCHEMA_LOCK, busSchemaSql());
}
