import type pg from 'pg';
import { isPipelined, send, transactionSetup, type Statement, type UnitOfWorkContext } from './transactionSetup.ts';

/** The transaction handed to a unit of work's function. Pass it to gateways; never keep it. */
export interface Tx {
  /**
   * Runs one statement with bound values. On a pipelining pool, statements issued without awaiting
   * the previous one share one round trip (`Promise.all([tx.query(a), tx.query(b)])`).
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

const noop = () => undefined;

/**
 * Runs `fn` in one transaction on `pool`, as the service's role, with the tenant and actor set for
 * Row-Level Security. Everything is transaction-local (role and settings by `set_config(…, true)`), so
 * a pooled connection never carries one request's role or tenant into the next.
 *
 * On a pipelining pool (`createDatabases` makes them) BEGIN and the settings are not waited for: they
 * travel with `fn`'s first statement, so a unit of work costs one round trip less. A failed setup
 * fails that first statement (and the unit) with the setup's error; PostgreSQL runs nothing of `fn`
 * in a transaction that has failed.
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
  const client = await pool.connect();
  const pipelined = isPipelined(client);
  const hooks: Array<() => void | Promise<void>> = [];
  let open = true;
  let result: T;
  try {
    const ready = pipelined ? Promise.all(setup.map((s) => send(client, s))).then(noop) : sendInTurn(client, setup);
    ready.catch(noop); // awaited below and by every statement; never left unhandled
    let inTurn: Promise<unknown> = ready;
    result = await fn({
      context,
      query: <R extends pg.QueryResultRow>(text: string | Statement, values?: readonly unknown[]) => {
        if (!open) return Promise.reject(new Error('This unit of work has ended: run statements only while its function runs'));
        const statement: Statement = typeof text === 'string' ? { text, values } : text;
        if (pipelined) {
          const answer = send<R>(client, statement);
          answer.catch(noop);
          return ready.then(() => answer);
        }
        // A plain client takes one statement at a time: statements issued together wait in line.
        const answer = inTurn.then(() => send<R>(client, statement));
        inTurn = answer.then(noop, noop);
        return answer;
      },
      afterCommit: (hook) => {
        hooks.push(hook);
      },
    });
    await ready;
    open = false;
    const commit = await client.query('COMMIT');
    if (commit.command !== 'COMMIT') throw new RolledBackError();
  } catch (error) {
    open = false;
    // Whatever failed (the setup, `fn` or COMMIT), end the transaction before the connection goes
    // back to the pool; a connection that cannot even roll back is destroyed, not reused.
    const rollbackError = await client.query('ROLLBACK').then(
      () => undefined,
      (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
    );
    client.release(rollbackError);
    throw error;
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

/** Sends statements one after the other (a client that does not pipeline); stops at the first error. */
export async function sendInTurn(client: pg.ClientBase, statements: readonly Statement[]): Promise<void> {
  for (const s of statements) await send(client, s);
}

/**
 * A {@link Tx} over a client the caller already holds inside a transaction it manages itself (a
 * rebuild's swap, a test that keeps a transaction open). Its `afterCommit` hooks are dropped: the
 * caller owns the commit.
 */
export function clientTx(client: pg.ClientBase, context: UnitOfWorkContext): Tx {
  return {
    context,
    query: <R extends pg.QueryResultRow>(text: string | Statement, values?: readonly unknown[]) => send<R>(client, typeof text === 'string' ? { text, values } : text),
    afterCommit: noop,
  };
}
