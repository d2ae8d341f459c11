import type pg from 'pg';
import { withDeadline } from '../runtime/withDeadline.ts';
import { acquireClient } from './acquireClient.ts';
import { localTimeouts } from './localTimeouts.ts';
import { sendBatch } from './sendBatch.ts';
import { releaseAfterFailure, unanswered } from './unitOfWork.ts';

/**
 * How much sooner the database's bound ends than the caller's, in ms: a read the database cut short
 * (a lock it waited on) fails with that reason before the caller stops waiting, so the caller can say
 * "the database answered, a lock held the read" rather than only "no answer".
 */
export const DATABASE_BOUND_MARGIN_MS = 200;

/**
 * Runs `fn` in one READ ONLY transaction on a connection of `pool`, as the pool's own role (no service
 * role, no tenant: the platform's own reads, such as a gauge counted at scrape time or readiness's look
 * at the migrations), bounded twice:
 * - for the caller: it rejects after `timeoutMs` with "no answer within `timeoutMs` ms", whatever it
 *   waited on (a connection of a full pool, a database that does not answer, a lock);
 * - in the database: `statement_timeout` and `lock_timeout` ({@link localTimeouts}), set first in the
 *   transaction, end each of its statements {@link DATABASE_BOUND_MARGIN_MS} before the caller's bound
 *   (SQLSTATE 57014 or 55P03: `isLocalTimeout`), so a read stuck behind a lock gives its connection
 *   back then instead of holding it until the lock goes. A connection that came too late for that runs
 *   nothing.
 *
 * Before, these reads were a bare `pool.query`: with a table locked (a migration's ALTER, a VACUUM FULL)
 * each scrape or probe held a connection of the pool the API shares until the lock went, and twenty of
 * them held all of it. A failed transaction is rolled back; a connection in an unknown state is destroyed.
 *
 * @example
 * const { rows } = await boundedRead(pool, 2000, (client) => client.query('select count(*)::int as n from brigade_bus.dead_letters'));
 */
export function boundedRead<T>(pool: pg.Pool, timeoutMs: number, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const read = async () => {
    const client = await acquireClient(pool);
    const until = deadline - DATABASE_BOUND_MARGIN_MS;
    if (Date.now() >= until) {
      client.release();
      throw new Error(`no answer within ${timeoutMs} ms: no connection of the pool came free in time, so the read ran nothing`);
    }
    try {
      await sendBatch(client, [{ text: 'begin read only' }, localTimeouts(until)]);
      const result = await fn(client);
      await client.query('commit');
      client.release();
      return result;
    } catch (error) {
      await releaseAfterFailure(client, true, unanswered(error));
      throw error;
    }
  };
  return withDeadline(read(), timeoutMs);
}
