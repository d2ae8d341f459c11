import { dedicatedMigrationTargets, embeddedDataDir, migrationTargets, type DedicatedMigrationTarget, type MigrationTarget } from '../composition/runtime.ts';
import { SERVICE_NAMES } from '../composition/services.ts';
import { redact, type Config } from '../platform/config/index.ts';
import { BrigadeError } from '../platform/errors/index.ts';
import { runMigrations } from '../platform/migrations/index.ts';
import { ConfiguredDatabaseError, dedicatedDatabaseAdvice, describeDedicatedDatabase, type DedicatedDatabaseFailure } from './databaseErrors.ts';

/** A configured database to migrate with the line that names it (its redacted URL) and the variable that configures it. */
export type TitledMigrationTarget = MigrationTarget & { readonly title: string; readonly variable: string };

/** A restaurant's own database to migrate with the line that names it (its label, never its URL). */
export type TitledDedicatedTarget = DedicatedMigrationTarget & { readonly title: string };

/** The configured databases (the main one, each `<SERVICE>_DATABASE_URL`), each titled by its redacted URL. */
export function configuredMigrationTargets(config: Config, mainUrl: string): TitledMigrationTarget[] {
  return migrationTargets(config, mainUrl).map((t) => ({ ...t, title: `database ${redact(t.url)}:`, variable: variableOf(config, mainUrl, t.url) }));
}

/**
 * The placement catalog's dedicated databases (restaurants moved to their own), each titled by its
 * label, never its URL. Read once the configured ones are migrated: the catalog is the platform's
 * table, and a fresh database has none yet. A failure to read the catalog is the platform database's
 * ({@link ConfiguredDatabaseError}).
 */
export async function dedicatedTitledMigrationTargets(config: Config, mainUrl: string): Promise<TitledDedicatedTarget[]> {
  const targets = await configuredDatabase(variableOf(config, mainUrl, config.serviceDatabaseUrls.platform ?? mainUrl), () => dedicatedMigrationTargets(config, mainUrl));
  return targets.map((t) => ({ ...t, title: `database ${t.label} (a restaurant's own, placement catalog):` }));
}

/**
 * Runs `fn` on a configured database: a driver's failure there becomes a {@link ConfiguredDatabaseError}
 * naming `variable`. Brigade's own errors (a refusal of the migrator) pass as they are.
 */
export async function configuredDatabase<T>(variable: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    throw error instanceof BrigadeError ? error : new ConfiguredDatabaseError(variable, error);
  }
}

/** What failed on a restaurant's own database, with its names: label, address and restaurants. */
export function dedicatedFailure(target: DedicatedMigrationTarget, error: unknown): DedicatedDatabaseFailure {
  return { label: target.label, address: target.address, restaurants: target.restaurants, reason: error instanceof Error ? error.message : String(error) };
}

/** One line for the operator: which restaurant's database failed (`what`: "could not migrate"), why, and what to do, then `then`. */
export function dedicatedFailureLine(failure: DedicatedDatabaseFailure, what: string, then?: string): string {
  return `${what} database ${describeDedicatedDatabase(failure)}: ${failure.reason}. ${dedicatedDatabaseAdvice(then)}.`;
}

/**
 * The warning of a process that starts without a restaurant's own database that it could not migrate
 * (`brigade start`, `brigade demo`): which one, that every other restaurant is served, and what to do.
 */
export function startingWithoutLine(failure: DedicatedDatabaseFailure): string {
  return (
    `warning: starting without restaurant database ${describeDedicatedDatabase(failure)}: it is not migrated. Every other restaurant is served; ` +
    `that restaurant's requests fail while its database does not answer, and /health/ready shows it. Once it answers, run brigade migrate.`
  );
}

/**
 * Applies pending migrations to every database the release runs on: the configured ones first (each
 * titled when there are several), then each dedicated database of the placement catalog (always
 * titled), whose migrations `/health/ready` requires as well. What `brigade migrate`, `brigade
 * start` and `brigade demo` run.
 *
 * A configured database that fails stops the run ({@link ConfiguredDatabaseError}, or the migrator's
 * refusal): nothing runs without it. A restaurant's own database that fails (unreachable, or a
 * migration of it failed) does not (decision 0008: one restaurant's database must not take the platform
 * down): it is said on `err` at once, by its label, address and restaurant, the others are migrated,
 * and the failures are returned for the caller to end with. `signal` (Ctrl+C) cancels the migration
 * running and ends the run with its `MigrationInterruptedError`, whichever database it was on.
 *
 * @example
 * const { failed } = await migrateEveryDatabase(config, db.url, { out: ctx.io.out, err: ctx.io.err });
 */
export async function migrateEveryDatabase(
  config: Config,
  mainUrl: string,
  options: {
    readonly dryRun?: boolean;
    readonly out: (line: string) => void;
    readonly err: (line: string) => void;
    readonly signal?: AbortSignal;
    /** What the user ran (`brigade start`), which an interruption's message tells them to run again. Default `brigade migrate`. */
    readonly command?: string;
  },
): Promise<{ readonly failed: readonly DedicatedDatabaseFailure[] }> {
  // `setting`: the variable of a configured database (not the embedded one's), which a file failed for want of a privilege names.
  const apply = (target: MigrationTarget & { readonly title: string; readonly variable?: string }, withTitle: boolean, embeddedDataDir?: string) => {
    if (withTitle) options.out(target.title);
    return runMigrations({
      url: target.url,
      sets: target.sets,
      dryRun: options.dryRun === true,
      onProgress: options.out,
      onWarning: options.err,
      signal: options.signal,
      embeddedDataDir,
      // A server that takes the connection and never answers fails the run after DATABASE_ACQUIRE_TIMEOUT_MS.
      connectTimeoutMs: config.databaseAcquireTimeoutMs,
      command: options.command,
      setting: embeddedDataDir === undefined ? target.variable : undefined,
    });
  };
  const configured = configuredMigrationTargets(config, mainUrl);
  // The embedded database's refusals (made by another build) tell its user the way out, not a migration author's.
  for (const target of configured) await configuredDatabase(target.variable, () => apply(target, configured.length > 1, embeddedDataDirOf(config, mainUrl, target.url)));
  const failed: DedicatedDatabaseFailure[] = [];
  for (const target of await dedicatedTitledMigrationTargets(config, mainUrl)) {
    try {
      await apply(target, true);
    } catch (error) {
      // An interruption is not that database's failure: it stops the run.
      if (options.signal?.aborted === true) throw error;
      const failure = dedicatedFailure(target, error);
      failed.push(failure);
      options.err(dedicatedFailureLine(failure, options.dryRun === true ? 'could not check' : 'could not migrate', options.dryRun === true ? 'run brigade migrate --dry-run' : undefined));
    }
  }
  return { failed };
}

/** The embedded server's data directory when `url` is the main database and that is the embedded one (no `DATABASE_URL`). */
export function embeddedDataDirOf(config: Config, mainUrl: string, url: string): string | undefined {
  return url === mainUrl ? (embeddedDataDir(config) ?? undefined) : undefined;
}

/** The variable that configures the database at `url`: `DATABASE_URL` for the main one, else the services' `<SERVICE>_DATABASE_URL`. */
function variableOf(config: Config, mainUrl: string, url: string): string {
  if (url === mainUrl) return 'DATABASE_URL';
  const services = SERVICE_NAMES.filter((s) => config.serviceDatabaseUrls[s] === url);
  return services.length === 0 ? 'DATABASE_URL' : services.map((s) => `${s.toUpperCase()}_DATABASE_URL`).join(' and ');
}
