import type pg from 'pg';
import { BrigadeError } from '../errors/index.ts';
import { asDatabaseUnavailable } from './databaseUnavailable.ts';

/** pg-pool's error when no connection came free within the pool's `connectionTimeoutMillis`. */
const WAITED_TOO_LONG = 'timeout exceeded when trying to connect';

/** What a client told {@link DatabaseBusyError} is asked to wait before it tries again (`Retry-After`). */
export const DATABASE_BUSY_RETRY_AFTER_SECONDS = 1;

/**
 * 503 `DATABASE_BUSY`: every connection of the pool was in use and none came free within the pool's
 * acquire timeout (`DATABASE_ACQUIRE_TIMEOUT_MS`). Nothing was run. `details.retryAfterSeconds` becomes
 * the response's `Retry-After`.
 */
export class DatabaseBusyError extends BrigadeError {
  /** A later attempt may well succeed (the saga runner's default retries it). */
  readonly retryable = true;
  constructor(waitedMs: number | undefined, cause: unknown) {
    super(
      'DATABASE_BUSY',
      503,
      `Every database connection of this server was in use and none came free within ${waitedMs ?? '?'} ms, so nothing was done: retry in a moment. ` +
        'If it keeps happening, the operator should raise DATABASE_POOL_SIZE, or see what holds the connections (brigade_db_pool_connections in /metrics).',
      { cause, details: { retryAfterSeconds: DATABASE_BUSY_RETRY_AFTER_SECONDS } },
    );
  }
}

/**
 * `pool.connect()`, whose wait for a connection of a full pool past the pool's `connectionTimeoutMillis`
 * fails with {@link DatabaseBusyError} (503, retry) instead of pg-pool's bare error: a request answers
 * "busy, retry" rather than hang or fail as a 500, and a worker's retry loop reports it as what it is.
 * A database that cannot be reached (refused, a host that does not resolve or answer, a new
 * connection that did not open within `connectionTimeoutMillis`, a server shutting down, starting up
 * or out of connection slots) fails with `DATABASE_UNAVAILABLE` (503, retry;
 * {@link asDatabaseUnavailable}). Anything else (a wrong password, a database that does not exist) is
 * thrown as it came.
 *
 * @example
 * const client = await acquireClient(pool); // DATABASE_BUSY after DATABASE_ACQUIRE_TIMEOUT_MS with every connection taken
 */
export function acquireClient(pool: pg.Pool): Promise<pg.PoolClient> {
  return pool.connect().catch((error: unknown) => {
    if (error instanceof Error && error.message === WAITED_TOO_LONG) throw new DatabaseBusyError(pool.options.connectionTimeoutMillis, error);
    throw asDatabaseUnavailable(error, pool, 'connect');
  });
}
