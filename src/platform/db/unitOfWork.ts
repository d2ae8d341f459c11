import pg from 'pg';
import { acquireClient } from './acquireClient.ts';
import { asDatabaseUnavailable, databaseUnavailableReason } from './databaseUnavailable.ts';
import { BatchAbortedError, sendBatch, StatementValueError } from './sendBatch.ts';
import { transactionSetup, type Statement, type UnitOfWorkContext } from './transactionSetup.ts';

/** The transaction handed to a unit of work's function. Pass it to gateways; never keep it. */
export interface Tx {
  /**
   * Runs one statement with bound values. Statements issued without awaiting the previous one travel
   * together in one round trip (`Promise.all([tx.query(a), tx.query(b)])`); PostgreSQL still runs
   * them in order, and none after a failed one.
   */
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string | Statement, values?: readonly unknown[]): Promise<pg.QueryResult<R>>;
  /** The context this transaction runs as. */
  readonly context: UnitOfWorkContext;
  /** Registers work to run after a successful COMMIT (cache eviction, wake-ups). Not run on rollback. */
  afterCommit(fn: () => void | Promise<void>): void;
}

/** Options of {@link unitOfWork}. */
export interface UnitOfWorkOptions {
  /** Receives errors thrown by `afterCommit` callbacks (the commit stands). */
  readonly onAfterCommitError?: (error: unknown) => void;
  /**
   * Statements run right after the settings, before anything of `fn` (so they see the role and
   * tenant), in the same round trip; one that fails fails the unit of work with its error. The tenant
   * fence is one. Platform code only.
   */
  readonly setupStatements?: readonly Statement[];
}

/** Thrown when COMMIT answers ROLLBACK: a statement failed inside `fn` and `fn` carried on. */
export class RolledBackError extends Error {
  constructor() {
    super('The transaction was rolled back at COMMIT: one of its statements had failed, so nothing was written');
    this.name = 'RolledBackError';
  }
}

interface Pending {
  readonly statement: Statement;
  resolve(result: pg.QueryResult): void;
  reject(error: unknown): void;
}

const noop = () => undefined;

/**
 * Runs `fn` in one transaction on `pool`, as the service's role, with the tenant and actor set for
 * Row-Level Security. Everything is transaction-local (role and settings by `set_config(…, true)`), so
 * a pooled connection never carries one request's role or tenant into the next.
 *
 * BEGIN and the settings are not sent on their own: they go out in one batch with `fn`'s first
 * statements (one round trip), and a unit of work whose `fn` runs no statement sends nothing at all.
 * A failed setup fails those statements (and the unit) with the setup's error; PostgreSQL runs
 * nothing after a failed statement.
 *
 * Waits for a connection for at most the pool's acquire timeout (`DATABASE_ACQUIRE_TIMEOUT_MS` on the
 * server's pools), then fails with `DATABASE_BUSY` (503, retry) having run nothing. A database that
 * cannot be reached, or a connection lost on the way, fails it with `DATABASE_UNAVAILABLE` (503, retry;
 * its message says whether the work may have been committed).
 *
 * Commits when `fn` resolves, rolls back when it throws (and rethrows). `afterCommit` callbacks run
 * after COMMIT; their errors go to `onAfterCommitError` and never undo the committed work.
 *
 * @example
 * const item = await unitOfWork(pool, { service: 'menu', tenantId, actor }, (tx) =>
 *   tx.query('select * from menu.items where id = $1', [id]));
 */
export async function unitOfWork<T>(
  pool: pg.Pool,
  context: UnitOfWorkContext,
  fn: (tx: Tx) => Promise<T>,
  options: UnitOfWorkOptions = {},
): Promise<T> {
  const setup = [...transactionSetup(context), ...(options.setupStatements ?? [])];
  const client = await acquireClient(pool);
  const hooks: Array<() => void | Promise<void>> = [];
  let begun = false;
  let committing = false;
  /** A failure that was not the server's answer to a statement (a read timeout, a lost connection): the connection's state is unknown. */
  let lost: Error | undefined;
  let open = true;
  let queue: Pending[] = [];
  let scheduled = false;
  let inFlight: Promise<unknown> = Promise.resolve();

  // Statements issued in the same tick (and while a batch is on the wire) leave together as one batch;
  // the first batch written carries BEGIN and the settings in front. Whether the prefix is due is
  // decided when the batch is sent, not when it is queued, and a batch that wrote nothing (a value the
  // driver cannot send) leaves it due: the next batch must not run without BEGIN, role or tenant.
  const flush = () => {
    scheduled = false;
    const batch = queue;
    queue = [];
    inFlight = inFlight.then(() => {
      const prefix = begun ? [] : setup;
      return sendBatch(client, [...prefix, ...batch.map((p) => p.statement)]).then(
        (results) => {
          begun = true;
          batch.forEach((p, i) => p.resolve(results[prefix.length + i]!));
        },
        (error: Error & { batchIndex?: number }) => {
          if (!(error instanceof StatementValueError)) begun = true;
          lost ??= unanswered(error);
          // A failed setup fails every statement with its own error (the tenant router reads it);
          // after a failed statement of fn's, the later ones did not run.
          const failed = (error.batchIndex ?? 0) - prefix.length;
          batch.forEach((p, i) => p.reject(failed < 0 || i <= failed ? error : new BatchAbortedError(prefix.length + failed, error)));
        },
      );
    });
  };

  let result: T;
  try {
    result = await fn({
      context,
      query: <R extends pg.QueryResultRow>(text: string | Statement, values?: readonly unknown[]) => {
        if (!open) return Promise.reject(new Error('This unit of work has ended: run statements only while its function runs'));
        return new Promise<pg.QueryResult<R>>((resolve, reject) => {
          queue.push({ statement: typeof text === 'string' ? { text, values } : text, resolve: resolve as Pending['resolve'], reject });
          if (!scheduled) {
            scheduled = true;
            queueMicrotask(flush);
          }
        });
      },
      afterCommit: (hook) => {
        hooks.push(hook);
      },
    });
    open = false;
    await inFlight;
    if (begun) {
      committing = true;
      const commit = await client.query('COMMIT').catch((error: unknown) => {
        lost ??= unanswered(error);
        throw error;
      });
      if (commit.command !== 'COMMIT') throw new RolledBackError();
    }
  } catch (error) {
    open = false;
    // Whatever failed (the setup, `fn` or COMMIT), end the transaction before the connection goes
    // back to the pool; a connection that cannot even roll back, or whose statement got no answer, is
    // destroyed, not reused.
    await inFlight.catch(noop);
    await releaseAfterFailure(client, begun, lost);
    // A database that cannot be reached, or a connection lost, is DATABASE_UNAVAILABLE (503, retry).
    throw asDatabaseUnavailable(error, pool, committing ? 'commit' : 'work');
  }
  client.release();
  for (const hook of hooks) {
    try {
      await hook();
    } catch (error) {
      options.onAfterCommitError?.(error);
    }
  }
  return result;
}

/**
 * A {@link Tx} over a client the caller already holds inside a transaction it manages itself (a
 * rebuild's swap, a test that keeps a transaction open). Its `afterCommit` hooks are dropped: the
 * caller owns the commit.
 */
export function clientTx(client: pg.ClientBase, context: UnitOfWorkContext): Tx {
  return {
    context,
    query: <R extends pg.QueryResultRow>(text: string | Statement, values?: readonly unknown[]) => {
      const s: Statement = typeof text === 'string' ? { text, values } : text;
      return client.query<R>(s.text, s.values as unknown[] | undefined);
    },
    afterCommit: noop,
  };
}

/**
 * `error` when it is not the server's answer to a statement, so the connection's state is unknown
 * (pg's "Query read timeout", whose statement still runs; a lost connection; a server ending the
 * session); `undefined` for a statement PostgreSQL refused or a value the driver could not send,
 * after which the connection is fine.
 */
export function unanswered(error: unknown): Error | undefined {
  if (error instanceof StatementValueError) return undefined;
  if (error instanceof pg.DatabaseError && databaseUnavailableReason(error) === undefined) return undefined;
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * Gives a client back after a failed transaction: ROLLBACK first when one is open (`rollback`); a
 * connection that cannot even roll back is destroyed, not pooled. A connection `lost` (a failure that
 * was not the server's answer, {@link unanswered}) is destroyed at once, without a ROLLBACK: after pg's
 * read timeout the statement is still running, so a ROLLBACK would wait behind it (until its own read
 * timeout: the caller heard of the failure after twice the timeout), and ending the connection ends
 * the transaction as well.
 */
export async function releaseAfterFailure(client: pg.PoolClient, rollback: boolean, lost?: Error): Promise<void> {
  if (lost !== undefined) {
    client.release(lost);
    return;
  }
  const rollbackError = rollback
    ? await client.query('ROLLBACK').then(
        () => undefined,
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      )
    : undefined;
  client.release(rollbackError);
}
