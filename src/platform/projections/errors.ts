import { BrigadeError } from '../errors/index.ts';

/** 409: another rebuild of the same projection holds its rebuild lock. */
export class RebuildInProgressError extends BrigadeError {
  constructor(name: string) {
    super('PROJECTION_REBUILD_IN_PROGRESS', 409, `A rebuild of projection ${name} is already running; wait for it to finish`, { details: { projection: name } });
  }
}

/**
 * 503: the caller's signal aborted the rebuild (`brigade projections rebuild` on Ctrl+C or SIGTERM)
 * before the swap committed: the copy was dropped and the live view serves on, unchanged.
 */
export class RebuildCancelledError extends BrigadeError {
  constructor(name: string, reason: unknown) {
    super(
      'PROJECTION_REBUILD_CANCELLED',
      503,
      `The rebuild of projection ${name} was stopped by ${typeof reason === 'string' ? reason : 'an abort'} before its swap: its copy was dropped and the live view is unchanged. Run the rebuild again`,
      { details: { projection: name } },
    );
  }
}

/**
 * 409: a tenant moved to a database of its own while the rebuild replayed (the move bumps the
 * checkpoints' `epoch`, decision 0008): the shadow may hold the moved tenant's rows, which must not
 * come back into this database. Nothing was swapped; run the rebuild again.
 */
export class RebuildInterruptedByMoveError extends BrigadeError {
  constructor(name: string) {
    super('PROJECTION_REBUILD_TENANT_MOVED', 409, `A tenant moved to its own database while projection ${name} was being rebuilt; nothing was swapped: run the rebuild again`, {
      details: { projection: name },
    });
  }
}

/**
 * 503: the swap's catch-up (live projector paused) read `passes` full pages and there was still more.
 * Its reads cannot grow while it runs (they stop below its own transaction), so this is what was
 * appended between the end of the replay and the swap: more than `passes` pages of `batchSize`.
 */
export class RebuildFallingBehindError extends BrigadeError {
  constructor(name: string, passes: number, batchSize: number) {
    super(
      'PROJECTION_REBUILD_FALLING_BEHIND',
      503,
      `The swap of projection ${name} read ${passes} full catch-up pages of ${batchSize} events and there was more: over ${passes * batchSize} events were appended between the end of its replay and the swap, too many to catch up while the live projector is paused. Nothing was swapped and the live view serves on: run the rebuild again, or with a larger --batch`,
      { details: { projection: name, passes, batchSize } },
    );
  }
}

/**
 * 409: at the swap, with the live view locked, it no longer has the shadow's shape (columns and
 * types, indexes, constraints): something altered it while the rebuild ran, most likely a migration.
 * Swapping would drop that change with the old table; nothing was swapped.
 */
export class RebuildSchemaChangedError extends BrigadeError {
  constructor(name: string, table: string, differences: readonly string[]) {
    super(
      'PROJECTION_REBUILD_SCHEMA_CHANGED',
      409,
      `The view ${table} of projection ${name} had its schema changed during the rebuild (a migration?); nothing swapped; run the rebuild again. Differences: ${differences.join('; ')}`,
      { details: { projection: name, table, differences } },
    );
  }
}

/**
 * 403: the live view belongs to a role the connecting role cannot hand the rebuilt table to (it is
 * not a member of it, or that role may not create in the schema). The rebuilt table must keep the
 * live owner, or later migrations run as that role fail with "must be owner of table". Refused
 * before anything was made.
 */
export class RebuildOwnerError extends BrigadeError {
  constructor(name: string, table: string, owner: string, current: string) {
    super(
      'PROJECTION_REBUILD_NOT_OWNER',
      403,
      `The view ${table} of projection ${name} is owned by role ${owner}, and role ${current} cannot give the rebuilt table to it (it is not a member of ${owner}, or ${owner} may not create in the schema); nothing was done: run the rebuild connected as ${owner} (the migrating role) or as a member of it`,
      { details: { projection: name, table, owner, role: current } },
    );
  }
}

/** 500: a projection's batch ran before its checkpoint row was made. */
export class ProjectionCheckpointMissingError extends BrigadeError {
  constructor(name: string) {
    super('PROJECTION_CHECKPOINT_MISSING', 500, `Projection ${name} has no checkpoint row: call ensureCheckpoint(tx, projection) once before its first batch (runProjection does)`, { details: { projection: name } });
  }
}

/** A database session that holds up a rebuild or a projection, as `pg_stat_activity` shows it (its query cut to 120 characters). */
export interface BlockingSession {
  readonly pid: number;
  /** How long its transaction has been open. */
  readonly seconds: number;
  readonly state: string | null;
  readonly query: string | null;
  /**
   * Its database, when not the reader's: the horizon is the cluster's, so another application's
   * session, or a restaurant's dedicated database on the same server, holds a rebuild here too.
   * Absent for a session of the reader's own database.
   */
  readonly otherDatabase?: string;
}

/**
 * A prepared (two-phase) transaction: no session holds it (its own has gone), so `pg_stat_activity`
 * does not list it; only `COMMIT PREPARED` or `ROLLBACK PREPARED` of its `gid`, in its database, ends it.
 */
export interface PreparedTransaction {
  readonly gid: string;
  readonly database: string;
  /** The role that prepared it (who, besides a superuser, may end it). */
  readonly owner: string;
  /** How long ago it was prepared. */
  readonly seconds: number;
}

/** What holds the horizon back (decision 0011): a session's running transaction, or a prepared one. */
export type HorizonHolder = BlockingSession | PreparedTransaction;

/**
 * `holder` in words, for status lines and errors: the backend with its transaction's age, state and
 * query, or the prepared transaction with its database and owner.
 *
 * @example
 * describeHorizonHolder({ pid: 42, seconds: 73, state: 'idle in transaction', query: 'update …' });
 * // 'the transaction of backend pid 42 (open 73 s, idle in transaction: "update …")'
 */
export function describeHorizonHolder(holder: HorizonHolder): string {
  if ('gid' in holder) return `prepared transaction '${holder.gid}' of database ${holder.database} (prepared ${Math.round(holder.seconds)} s ago, by ${holder.owner}; no session holds it)`;
  // A role without pg_read_all_stats sees another role's sessions without state or query.
  const hidden = holder.query === '<insufficient privilege>';
  const where = holder.otherDatabase === undefined ? '' : ` of database ${holder.otherDatabase} (another database of this server)`;
  return `the transaction of backend pid ${holder.pid}${where} (open ${Math.round(holder.seconds)} s, ${hidden ? "state and query hidden from this role: see pg_stat_activity as a superuser" : `${holder.state ?? 'unknown state'}: ${JSON.stringify(holder.query ?? '')}`})`;
}

/** How an operator ends what {@link describeHorizonHolder} names. */
export function endHorizonHolder(holder: HorizonHolder): string {
  if ('gid' in holder) return `COMMIT PREPARED '${holder.gid}' or ROLLBACK PREPARED '${holder.gid}' in database ${holder.database} (as ${holder.owner} or a superuser)`;
  if (holder.otherDatabase !== undefined) return `SELECT pg_terminate_backend(${holder.pid}) (it is database ${holder.otherDatabase}'s: ask whoever runs it first)`;
  return `SELECT pg_terminate_backend(${holder.pid})`;
}

/** 503: a transaction that was open when a rebuild started is still open, so the rebuild cannot see all it must replay. */
export class HorizonStalledError extends BrigadeError {
  constructor(oldest: HorizonHolder | null, waitedMs: number) {
    const who = oldest === null ? 'a transaction' : describeHorizonHolder(oldest);
    super(
      'PROJECTION_HORIZON_STALLED',
      503,
      `Waited ${(waitedMs / 1000).toFixed(1)} s for ${who} to end: the rebuild cannot swap in before it has seen every event committed before it started. ` +
        `${oldest === null ? 'End that transaction' : `End it with ${endHorizonHolder(oldest)}`} or retry later`,
      { details: { oldest } },
    );
  }
}

/**
 * 503: the swap could not take the live view within its lock timeout: a session holds the view (a
 * report, a dump, a transaction left idle after reading it). Waiting longer would queue every read of
 * the view behind the swap; nothing was swapped.
 */
export class RebuildSwapBlockedError extends BrigadeError {
  constructor(name: string, table: string, holders: readonly BlockingSession[], waitedMs: number) {
    const who = holders.length === 0 ? 'another session' : holders.map((h) => `backend ${h.pid} (in its transaction ${Math.round(h.seconds)} s, ${h.state ?? 'unknown state'}: ${JSON.stringify(h.query ?? '')})`).join(', ');
    super(
      'PROJECTION_REBUILD_SWAP_BLOCKED',
      503,
      `The rebuild of projection ${name} could not take ${table} within ${(waitedMs / 1000).toFixed(1)} s: ${who} holds it. Nothing was swapped and the live view serves on; end that session (or wait for it) and run the rebuild again`,
      { details: { projection: name, holders } },
    );
  }
}
