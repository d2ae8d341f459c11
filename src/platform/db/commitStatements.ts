import type pg from 'pg';
import { RolledBackError } from './unitOfWork.ts';
import { isPipelined, send, transactionSetup, type Statement, type UnitOfWorkContext } from './transactionSetup.ts';

/** Runs statements known up front as one transaction in one round trip: {@link commitStatements} bound to a pool, or the tenant router's. */
export type CommitStatementsFn = (context: UnitOfWorkContext, statements: readonly Statement[]) => Promise<pg.QueryResult[]>;

/** Options of {@link commitStatements}. */
export interface CommitStatementsOptions {
  /** Statements run after the settings and before `statements` (the tenant fence). Platform code only. */
  readonly setupStatements?: readonly Statement[];
}

/**
 * Runs statements that are known up front as ONE transaction in ONE round trip on a pipelining pool:
 * BEGIN, the role/tenant/actor settings, the statements and COMMIT are written together, and the
 * answers read together. Returns the statements' results, in order.
 *
 * Use it where a unit of work needs no answer before its next statement: an event append with its
 * outbox rows, a read. A statement that fails makes PostgreSQL refuse the rest, COMMIT becomes a
 * rollback, and the first error is thrown: so a statement that must stop the ones after it (a stale
 * expected version) raises in SQL instead of returning a flag. Without pipelining (a plain pool) the
 * same statements run one by one, with the same outcome.
 *
 * @example
 * const [found] = await commitStatements(pool, { service: 'ordering', tenantId, actor }, [
 *   { text: 'select * from ordering.events where tenant_id = $1 and stream_id = $2', values: [tenantId, stream] },
 * ]);
 */
export async function commitStatements(
  pool: pg.Pool,
  context: UnitOfWorkContext,
  statements: readonly Statement[],
  options: CommitStatementsOptions = {},
): Promise<pg.QueryResult[]> {
  const setup = [...transactionSetup(context), ...(options.setupStatements ?? [])];
  const client = await pool.connect();
  if (!isPipelined(client)) {
    try {
      const results: pg.QueryResult[] = [];
      for (const s of setup) await send(client, s);
      for (const s of statements) results.push(await send(client, s));
      if ((await client.query('COMMIT')).command !== 'COMMIT') throw new RolledBackError();
      client.release();
      return results;
    } catch (error) {
      const rollbackError = await client.query('ROLLBACK').then(
        () => undefined,
        (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
      );
      client.release(rollbackError);
      throw error;
    }
  }
  const sent = [...setup, ...statements, { text: 'COMMIT' }].map((s) => send(client, s));
  const settled = await Promise.allSettled(sent);
  // The first failure in pipeline order is the cause; those after it only say the transaction failed.
  const failure = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
  const commit = settled.at(-1)!;
  if (failure === undefined && commit.status === 'fulfilled' && commit.value.command === 'COMMIT') {
    client.release();
    return settled.slice(setup.length, -1).map((s) => (s as PromiseFulfilledResult<pg.QueryResult>).value);
  }
  // COMMIT in a failed transaction rolls it back, and a failed COMMIT ends it: the connection is idle
  // again unless it broke (then pg-pool discards it).
  client.release(client.getTransactionStatus() === 'I' ? undefined : new Error('connection left inside a transaction'));
  throw failure?.reason ?? (commit.status === 'rejected' ? commit.reason : new RolledBackError());
}
