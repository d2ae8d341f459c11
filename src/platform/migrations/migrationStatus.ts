import pg from 'pg';
import { discoverMigrations, type MigrationSet } from './discoverMigrations.ts';
import { inspectMigrations, type MigrationStatusRow } from './inspectMigrations.ts';

/**
 * Every file of every set with its state, for `brigade migrate status` and `verify`
 * (`verify` fails on any `changed`, `missing` or `out-of-order` row, as `brigade migrate` refuses
 * them; `ahead` rows, a newer release's, are listed, not failed).
 */
export async function migrationStatus(options: { url: string; sets: readonly MigrationSet[] }): Promise<MigrationStatusRow[]> {
  const files = await discoverMigrations(options.sets);
  const client = new pg.Client({ connectionString: options.url, application_name: 'brigade-migrate' });
  // A connection lost meanwhile rejects the statement in flight, which is what the caller reports;
  // without a listener its 'error' event would also end the process.
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await inspectMigrations(client, files);
  } finally {
    await client.end().catch(() => undefined);
  }
}
