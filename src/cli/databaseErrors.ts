import { BrigadeError } from '../platform/errors/index.ts';

/**
 * A configured database failed (`DATABASE_URL`, or a `<SERVICE>_DATABASE_URL`): the command cannot go
 * on without it. `variable` names it, so that `brigade`'s advice (src/cli/main.ts) names that variable
 * and not `DATABASE_URL` for every database; `cause` is the driver's error (its `code` chooses the advice).
 */
export class ConfiguredDatabaseError extends BrigadeError {
  constructor(
    /** The environment variable that names the database: `DATABASE_URL`, `MENU_DATABASE_URL` … */
    readonly variable: string,
    cause: unknown,
  ) {
    super('DATABASE_FAILED', 503, cause instanceof Error ? cause.message : String(cause), { cause, details: { variable } });
  }
}

/** A restaurant's own database (decision 0008) that a command could not reach or migrate, named for an operator. */
export interface DedicatedDatabaseFailure {
  /** `db-` and 8 hex digits (`databaseLabel`): what logs, metrics and `/health/ready` call it. */
  readonly label: string;
  /** `host:port/database` (`databaseAddress`): no user, no password. */
  readonly address: string;
  /** The restaurants placed there (one since platform migration 0018). */
  readonly restaurants: ReadonlyArray<{ readonly id: string; readonly name: string }>;
  /** What went wrong, as the driver or the migrator said it. */
  readonly reason: string;
}

/** `db-1a2b3c4d (host:5432/name), which holds restaurant "Name" (id)`: never the user or password. */
export function describeDedicatedDatabase(failure: Pick<DedicatedDatabaseFailure, 'label' | 'address' | 'restaurants'>): string {
  const whose = failure.restaurants.map((r) => `${JSON.stringify(r.name)} (${r.id})`).join(', ');
  return `${failure.label} (${failure.address || 'an address that cannot be read'}), which holds ${failure.restaurants.length === 1 ? 'restaurant' : 'restaurants'} ${whose || 'no restaurant'}`;
}

/** What the operator does about a restaurant's own database that failed, and then `then` (`run brigade migrate`). */
export function dedicatedDatabaseAdvice(then = 'run brigade migrate'): string {
  return `Start PostgreSQL there (or, if that restaurant's database now lives at another address, correct its row in platform.tenant_placements), then ${then}`;
}

/**
 * 503 `DEDICATED_DATABASES_NOT_MIGRATED`: `brigade migrate` migrated every other database (and created
 * the subscriptions), but these restaurants' own databases failed. Each is named by its label and
 * address, never its connection string.
 */
export class DedicatedDatabasesNotMigratedError extends BrigadeError {
  constructor(
    readonly failures: readonly DedicatedDatabaseFailure[],
    options: { readonly dryRun?: boolean } = {},
  ) {
    const one = failures.length === 1;
    super(
      'DEDICATED_DATABASES_NOT_MIGRATED',
      503,
      `${failures.length} restaurant database(s) not ${options.dryRun === true ? 'checked' : 'migrated'}: ${failures.map((f) => `${describeDedicatedDatabase(f)}: ${f.reason}`).join('; ')}. ` +
        `${options.dryRun === true ? 'Every other database was checked' : 'Every other database is migrated'}. ` +
        `Start ${one ? 'it' : 'each'} (or, if a restaurant's database now lives at another address, correct its row in platform.tenant_placements) and run brigade migrate${options.dryRun === true ? ' --dry-run' : ''} again.`,
      { details: { databases: failures.map((f) => f.label) } },
    );
  }
}
