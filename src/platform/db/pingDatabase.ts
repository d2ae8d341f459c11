import pg from 'pg';
import { databaseAddress } from './databaseAddress.ts';

/**
 * How long {@link pingDatabase} waits by default: as long as `/health/ready` gives a database before it
 * calls it unanswered, so the start-up's word and the probe agree.
 */
export const DATABASE_PING_TIMEOUT_MS = 2000;

/**
 * Whether PostgreSQL at `url` takes a connection and answers `select 1` within `timeoutMs`: `null` when
 * it did, else why not (the driver's words, or that it did not answer in time). Never throws; the
 * connection is closed either way. What `brigade start` and `serve` ask once at start-up: they come up
 * without their database (`/health/ready` answers 503 until it answers, and the pools connect when it
 * does), so a `DATABASE_URL` that refuses connections does not stop them, and without a word it is
 * easy to miss. {@link databaseHostPort} names where it asked.
 *
 * @example
 * const why = await pingDatabase(config.databaseUrl); // null, or "connect ECONNREFUSED 127.0.0.1:5432"
 */
export async function pingDatabase(url: string, timeoutMs = DATABASE_PING_TIMEOUT_MS): Promise<string | null> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
    return null;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * `host:port` of a PostgreSQL connection string as pg reads it (port 5432 when none is given), never
 * its user or password: {@link databaseAddress} without the database, as a warning about
 * `DATABASE_URL` names where it asked (the Redis warning's form). `''` for a string pg cannot read.
 *
 * @example
 * databaseHostPort('postgres://app:secret@db.internal/brigade') // 'db.internal:5432'
 */
export function databaseHostPort(url: string): string {
  return /^(.*:\d+)\//.exec(databaseAddress(url))?.[1] ?? '';
}
