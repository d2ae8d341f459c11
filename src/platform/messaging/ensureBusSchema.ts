import type pg from 'pg';
import { runExclusiveDdl } from '../db/index.ts';
import { busDeliveriesLeanSql } from './busDeliveriesLeanSql.ts';
import { busSchemaSql } from './busSchemaSql.ts';

/** Arbitrary but fixed: the advisory lock that serialises concurrent {@link ensureBusSchema} calls. */
const BUS_SCHEMA_LOCK = 0x6272_6275; // 'brbu'

/** Every bus migration, in order (platform migrations 0004 and 0011 are these texts). Each is idempotent. */
export function busMigrationsSql(): string[] {
  return [busSchemaSql(), busDeliveriesLeanSql()];
}

/**
 * Creates the bus schema if it is missing, and brings an older one up to date. Safe when many processes
 * start at once (see {@link runExclusiveDdl}).
 */
export async function ensureBusSchema(pool: pg.Pool): Promise<void> {
  await runExclusiveDdl(pool, BUS_SCHEMA_LOCK, busMigrationsSql().join('\n'));
}
