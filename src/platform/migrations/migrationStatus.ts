import { ConnectingClient, DEFAULT_CONNECT_TIMEOUT_MS } from '../db/connectingClient.ts';
import { discoverMigrations, type MigrationSet } from './discoverMigrations.ts';
import { inspectMigrations, type MigrationStatusRow } from './inspectMigrations.ts';

/**
 * Every file of every set with its state, for `brigade migrate status` and `verify`
 * (`verify` fails on any `changed`, `missing` or `out-of-order` row, as `brigade migrate` refuses
 * them; `ahead` rows, a newer release's, are listed, not failed). `connectTimeoutMs`: how long the
 * connection may take to open (`DATABASE_ACQUIRE_TIMEOUT_MS` from the CLI; default
 * {@link DEFAULT_CONNECT_TIMEOUT_MS}): a server that never answers fails it then.
 */
export async function migrationStatus(options: { url: string; sets: readonly MigrationSet[]; connectTimeoutMs?: number | undefined }): Promise<MigrationStatusRow[]> {
  const files = await discoverMigrations(options.sets);
  const client = new ConnectingClient({ connectionString: options.url, application_name: 'brigade-migrate', connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS });
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
