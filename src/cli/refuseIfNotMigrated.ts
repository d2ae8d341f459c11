import type { DatabaseHandle } from '../composition/runtime.ts';
import type { Config } from '../platform/config/index.ts';
import { BrigadeError } from '../platform/errors/index.ts';
import { migrationStatus } from '../platform/migrations/index.ts';
import { configuredMigrationTargets } from './migrateEveryDatabase.ts';
import { notMigratedAdvice } from './notMigrated.ts';

/**
 * Refuses to start workers on a configured database with migration files pending (never migrated, or
 * a release's new files not yet applied): `brigade worker` used to start every worker there, and some
 * two dozen "relation … does not exist; retrying" warnings came before, around and after the one line
 * that said what to do. Now that line comes alone, before anything starts, naming the first file
 * pending: "the database at DATABASE_URL is not migrated (platform/0001_….sql pending, and 80 more):
 * run 'brigade migrate' first". Read as `brigade migrate status` reads it.
 *
 * A database that does not answer is not refused here: the workers start and retry as they did, this
 * check being about migrations only. Changed, missing or out-of-order files are not refused either
 * (`brigade migrate verify` is for those), nor files a newer release applied (`ahead`).
 *
 * @example
 * await refuseIfNotMigrated(config, db); // throws NOT_MIGRATED (503) on a fresh database
 */
export async function refuseIfNotMigrated(config: Config, db: DatabaseHandle): Promise<void> {
  for (const target of configuredMigrationTargets(config, db.url)) {
    const rows = await migrationStatus({ url: target.url, sets: target.sets, connectTimeoutMs: config.databaseAcquireTimeoutMs }).catch(() => null);
    const pending = rows?.filter((r) => r.state === 'pending') ?? [];
    const [first] = pending;
    if (first === undefined) continue;
    const which = `${first.id} pending${pending.length > 1 ? `, and ${pending.length - 1} more` : ''}`;
    throw new BrigadeError('NOT_MIGRATED', 503, notMigratedAdvice(which, db.embedded !== null && target.url === db.url, target.variable), { details: { pending: pending.map((r) => r.id) } });
  }
}
