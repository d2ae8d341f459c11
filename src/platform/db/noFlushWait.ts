import type { Statement } from './transactionSetup.ts';

/**
 * Makes the current transaction's commit return without waiting for the WAL flush
 * (`synchronous_commit = off`, transaction-local). Only for writes that can be done again from
 * durable data: a crash may lose the last fraction of a second of them, never half of a transaction
 * (the transport's claims and acks, a projection's batch with its checkpoint, a rebuild's shadow
 * table until the swap). Resultless and named (batches prepare it once per connection); send it first
 * in the transaction (`unitOfWork`'s `setupStatements`, or the first `tx.query`).
 */
export const NO_FLUSH_WAIT: Statement = Object.freeze({
  name: 'brigade_no_flush_wait',
  resultless: true,
  text: `select set_config('synchronous_commit', 'off', true)`,
});
