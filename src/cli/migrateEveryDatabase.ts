import { dedicatedMigrationTargets, migrationTargets, type MigrationTarget } from '../composition/runtime.ts';
import { redact, type Config } from '../platform/config/index.ts';
import { runMigrations } from '../platform/migrations/index.ts';

/** A database to migrate with the line that names it: a configured one by its redacted URL, a restaurant's own by its label. */
export type TitledMigrationTarget = MigrationTarget & { readonly title: string };

/** The configured databases (the main one, each `<SERVICE>_DATABASE_URL`), each titled by its redacted URL. */
export function configuredMigrationTargets(config: Config, mainUrl: string): TitledMigrationTarget[] {
  return migrationTargets(config, mainUrl).map((t) => ({ ...t, title: `database ${redact(t.url)}:` }));
}

/**
 * The placement catalog's dedicated databases (restaurants moved to their own), each titled by its
 * label, never its URL. Read once the configured ones are migrated: the catalog is the platform's
 * table, and a fresh database has none yet.
 */
export async function dedicatedTitledMigrationTargets(config: Config, mainUrl: string): Promise<TitledMigrationTarget[]> {
  return (await dedicatedMigrationTargets(config, mainUrl)).map((t) => ({ url: t.url, sets: t.sets, title: `database ${t.label} (a restaurant's own, placement catalog):` }));
}

/**
 * Applies pending migrations to every database the release runs on: the configured ones first (each
 * titled when there are several), then each dedicated database of the placement catalog (always
 * titled), whose migrations `/health/ready` requires as well. What `brigade migrate` and `brigade
 * start` both run; throws the first target's refusal or failure.
 *
 * @example
 * await migrateEveryDatabase(config, db.url, { out: ctx.io.out });
 */
export async function migrateEveryDatabase(config: Config, mainUrl: string, options: { readonly dryRun?: boolean; readonly out: (line: string) => void }): Promise<void> {
  const apply = async (target: TitledMigrationTarget, withTitle: boolean) => {
    if (withTitle) options.out(target.title);
    await runMigrations({ url: target.url, sets: target.sets, dryRun: options.dryRun === true, onProgress: options.out });
  };
  const configured = configuredMigrationTargets(config, mainUrl);
  for (const target of configured) await apply(target, configured.length > 1);
  for (const target of await dedicatedTitledMigrationTargets(config, mainUrl)) await apply(target, true);
}
