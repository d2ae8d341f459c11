import type pg from 'pg';
import { acquireClient } from './acquireClient.ts';
import { asDatabaseUnavailable } from './databaseUnavailable.ts';
import { groupCommitterOf } from './groupCommit.ts';
import { isStaleResultType, sendBatch } from './sendBatch.ts';
import { releaseAfterFailure, unanswered } from './unitOfWork.ts';
import { transactionSetup, type Statement, type UnitOfWorkContext } from './transactionSetup.ts';

/** Runs statements known up front as one transaction in one round trip: {@link commitStatements} bound to a pool, or the tenant router's. */
export type CommitStatementsFn = (context: UnitOfWorkContext, statements: readonly Statement[]) => Promise<pg.QueryResult[]>;

/** Options of {@link commitStatements}. */
export interface CommitStatementsOptions {
  /**
   * Statements run after the settings and before `statements` (the tenant fence). Platform code only.
   * A unit with any but the fence (a `localTimeouts`, `NO_FLUSH_WAIT`) is not group-committed with
   * others: it runs in a transaction of its own, so what it sets does not reach them.
   */
  readonly setupStatements?: readonly Statement[];
}

/**
 * Runs statements that are known up front as ONE transaction in ONE round trip: the role/tenant/actor
 * settings and the statements go out as one batch with a single Sync, which PostgreSQL runs as one
 * implicit transaction and commits at the Sync. Returns the statements' results, in order.
 *
 * Use it where a unit of work needs no answer before its next statement: an event append with its
 * outbox rows, a read. A statement that fails makes PostgreSQL skip the rest and roll everything back,
 * and its error is thrown: so a statement that must stop the ones after it (a stale expected version)
 * raises in SQL instead of returning a flag. With `isolation` or `readOnly` in the context the batch
 * is wrapped in BEGIN … COMMIT.
 *
 * A database that cannot be reached, or a connection lost on the way, fails it with
 * `DATABASE_UNAVAILABLE` (503, retry; phase `commit`: whether it committed is unknown; phase `work`
 * when the server ended the session while the statements ran: nothing was written), a pool whose
 * every connection stayed in use, or held up in group-commit batches, past its acquire timeout with
 * `DATABASE_BUSY`.
 *
 * Implicit transactions go through the pool's group committer (`groupCommit.ts`, docs/decisions/0055):
 * while the pool has its limit of batches in flight, units that wait are merged into one transaction
 * with one commit; a failure still reaches only the caller whose statement failed. So `statements`
 * must not change a transaction-local setting (`set_config(…, true)`, SET LOCAL), which would reach the
 * units after them: such a statement goes in `setupStatements`.
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
  const [begin, settings] = transactionSetup(context) as [Statement, Statement];
  const explicit = context.isolation !== undefined || context.readOnly === true;
  const prefix = [...(explicit ? [begin] : []), settings, ...(options.setupStatements ?? [])];
  if (!explicit) {
    // A connection lost with the batch on the wire: its implicit transaction may have committed at the Sync.
    return groupCommitterOf(pool)
      .commit({ statements: [...prefix, ...statements], from: prefix.length, to: prefix.length + statements.length })
      .catch((error: unknown) => {
        throw asDatabaseUnavailable(error, pool, 'commit');
      });
  }
  // A read-only transaction wrote nothing, whatever became of its COMMIT.
  const phase = context.readOnly === true ? 'work' : 'commit';
  const client = await acquireClient(pool);
  for (let attempt = 1; ; attempt++) {
    try {
      const results = await sendBatch(client, [...prefix, ...statements, { text: 'COMMIT' }]);
      client.release();
      return results.slice(prefix.length, prefix.length + statements.length);
    } catch (error) {
      // A statement this connection prepared before a migration changed its result's type: nothing
      // ran, and sent again on the same connection it is prepared afresh (once: a second refusal is
      // not that). Another connection may hold its own stale copy, so the retry stays here.
      if (attempt === 1 && isStaleResultType(error) && (await client.query('ROLLBACK').then(() => true, () => false))) continue;
      // The explicit transaction waits, failed, for ROLLBACK (unless the connection is lost or still busy).
      await releaseAfterFailure(client, true, unanswered(error));
      // Its COMMIT left in the same batch: a connection lost on the way may have committed it.
      throw asDatabaseUnavailable(error, pool, phase);
    }
  }
}
