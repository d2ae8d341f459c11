import type pg from 'pg';
import { BrigadeError } from '../errors/index.ts';

/** What a client told {@link DatabaseUnavailableError} is asked to wait before it tries again (`Retry-After`): a restart or a fail-over takes seconds. */
export const DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS = 5;

/**
 * When the database failed a caller: `connect` while a connection was opened (nothing was run),
 * `work` inside a transaction before its COMMIT was sent (rolled back: nothing was written), `commit`
 * while the work was being committed (a COMMIT, or an implicit transaction's Sync): it may have been.
 */
export type DatabaseUnavailablePhase = 'connect' | 'work' | 'commit';

/**
 * 503 `DATABASE_UNAVAILABLE`: PostgreSQL could not be reached or dropped the connection (refused, a
 * host that does not resolve or answer, a connection that did not open in time, shutting down or
 * starting up, out of connection slots). The message says what happened in words, never the driver's
 * text (it names hosts), whether anything may have been written, and where the operator looks: the
 * setting of the database's URL (`DATABASE_URL`, `MENU_DATABASE_URL`, …), never the URL.
 * `details.retryAfterSeconds` becomes the response's `Retry-After`; workers retry it like any failure
 * of 5xx (`retryable`, for the saga runner's default).
 */
export class DatabaseUnavailableError extends BrigadeError {
  /** A later attempt may well succeed. */
  readonly retryable = true;
  /**
   * When it failed: `commit` leaves the outcome unknown (the work may have been saved), so whatever must
   * follow a change that may have happened (a cache eviction) is still done.
   */
  readonly phase: DatabaseUnavailablePhase;
  /**
   * Where the operator finds the database: the setting of its URL (`DATABASE_URL`, `MENU_DATABASE_URL`,
   * several joined with ` / `), or a description of a restaurant's own database; never the URL.
   */
  readonly where: string;
  constructor(reason: string, phase: DatabaseUnavailablePhase, where: string, cause: unknown) {
    const what =
      phase === 'connect'
        ? `The database did not accept a connection (${reason}), so nothing was done: retry in a moment.`
        : phase === 'work'
          ? `The connection to the database was lost before the work was committed (${reason}), so nothing was written: retry in a moment.`
          : `The connection to the database was lost while the work was being committed (${reason}), so it may or may not have been saved: read it back before doing it again, or retry with the same Idempotency-Key.`;
    super('DATABASE_UNAVAILABLE', 503, `${what} If it keeps happening, the operator should check that PostgreSQL at ${where} is up and accepting connections.`, {
      cause,
      details: { retryAfterSeconds: DATABASE_UNAVAILABLE_RETRY_AFTER_SECONDS },
    });
    this.phase = phase;
    this.where = where;
  }
}

/** Node's socket and name-lookup errors of a database that cannot be reached, in words. */
const SOCKET_REASONS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'it refused the connection',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed',
  ETIMEDOUT: 'the connection timed out',
  ENOTFOUND: 'its host name does not resolve',
  EAI_AGAIN: 'its host name could not be looked up',
  EHOSTUNREACH: 'its host cannot be reached',
  ENETUNREACH: 'its network cannot be reached',
};

/** SQLSTATEs of a server that cannot serve the connection (besides class 08, connection exception), in words. */
const SERVER_REASONS: Readonly<Record<string, string>> = {
  '53300': 'it has no connection slot left: too many connections',
  '57P01': 'the server ended the session: shut down, or terminated by an administrator',
  '57P02': 'the server ended the session: crash shutdown',
  '57P03': 'the server is starting up or shutting down',
};

/**
 * Why `error` says the database cannot be used (a lost or refused connection, a connect timeout, a
 * server that is down, starting, or out of connection slots; while connecting, a database that does
 * not accept connections now), in words fit for a client; `undefined` for any other error (a statement
 * PostgreSQL refused, a bug, a busy pool, a login or database name that is wrong).
 */
export function databaseUnavailableReason(error: unknown, phase: DatabaseUnavailablePhase = 'work'): string | undefined {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (typeof code === 'string') {
    if (code.startsWith('08')) return `the connection failed (SQLSTATE ${code})`;
    // Object not in prerequisite state: at start-up, only a database whose connections are turned off
    // (ALTER DATABASE … ALLOW_CONNECTIONS false, as during maintenance) says so; later, it is a statement's.
    if (code === '55000' && phase === 'connect') return 'the database does not accept connections now';
    const reason = SOCKET_REASONS[code] ?? SERVER_REASONS[code];
    if (reason !== undefined) return reason;
  }
  if (typeof message !== 'string') return undefined;
  // pg-pool's connectionTimeoutMillis while a new connection was opening (a host that does not answer).
  if (message.startsWith('Connection terminated due to connection timeout')) return 'no connection opened in the time allowed';
  // pg's "Connection terminated unexpectedly" and "Connection terminated" (the socket closed).
  if (message.startsWith('Connection terminated')) return 'the connection was closed';
  return undefined;
}

/** What each pool's database is called in {@link DatabaseUnavailableError}'s advice: the setting of its URL. */
const settings = new WeakMap<pg.Pool, string>();

/**
 * Names the setting (or other description, never the URL) under which the operator finds the
 * database of `pool`, for {@link DatabaseUnavailableError}'s advice: `createDatabases` names its pools.
 *
 * @example
 * nameDatabaseSetting(pool, 'MENU_DATABASE_URL');
 */
export function nameDatabaseSetting(pool: pg.Pool, setting: string): void {
  settings.set(pool, setting);
}

/** A pool nobody named: one of the configured databases. */
const UNNAMED = "DATABASE_URL (or the service's own <SERVICE>_DATABASE_URL)";

/**
 * `error` as a {@link DatabaseUnavailableError} when it says the database of `pool` cannot be used
 * ({@link databaseUnavailableReason}), with the error as its cause; any other error unchanged.
 *
 * @example
 * throw asDatabaseUnavailable(error, pool, 'connect');
 */
export function asDatabaseUnavailable(error: unknown, pool: pg.Pool, phase: DatabaseUnavailablePhase): unknown {
  if (error instanceof BrigadeError) return error;
  const reason = databaseUnavailableReason(error, phase);
  return reason === undefined ? error : new DatabaseUnavailableError(reason, phase, settings.get(pool) ?? UNNAMED, error);
}
