import type pg from 'pg';
import { acquireClient } from './acquireClient.ts';
import { NO_FLUSH_WAIT } from './noFlushWait.ts';
import { sendBatch } from './sendBatch.ts';
import type { Statement } from './transactionSetup.ts';

/**
 * Runs one statement as a transaction of its own whose commit does not wait for the WAL flush
 * (`synchronous_commit = off`, transaction-local), in one round trip. For writes a crash may take back:
 * the PostgreSQL transport's claims and acks (one lost only means a redelivery, which at-least-once
 * delivery allows, while a flush per message was most of what a delivery cost: decision 0039), a
 * reader's wake-up of a projection (decision 0072). A connection that failed is destroyed, not pooled.
 */
export async function runWithoutFlushWait(pool: pg.Pool, statement: Statement): Promise<pg.QueryResult> {
  const client = await acquireClient(pool);
  try {
    const [, result] = await sendBatch(client, [NO_FLUSH_WAIT, statement]);
    client.release();
    return result!;
  } catch (error) {
    client.release(error instanceof Error ? error : true);
    throw error;
  }
}
