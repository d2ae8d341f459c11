import type { Tx } from '../db/index.ts';
import { outboxInsert } from './outboxInsert.ts';
import type { OutboxMessage } from './types.ts';

/** Options for {@link writeToOutbox}. */
export interface WriteToOutboxOptions {
  /** Schema holding the outbox. Default: the transaction's service (`tx.context.service`). */
  readonly schema?: string;
}

/**
 * Writes messages to the service's outbox in the caller's transaction, so they commit (and are later
 * published by the relay) exactly when the business change does. One INSERT for the whole batch, all
 * values bound. Returns the message ids, in order.
 *
 * Per-key order is the order of the writing transactions' ids, that is of their first writes: a
 * transaction that wrote something else first and writes its message after another one's message for
 * the same key committed is published before it (decision 0035). Where a consumer depends on a key's
 * order, write the message first in the transaction, or append events (the event store refuses the
 * out-of-order append).
 *
 * @example
 * await unitOfWork(pool, { service: 'delivery', tenantId, actor }, async (tx) => {
 *   await tx.query('update delivery.assignments set courier_id = $2 where id = $1', [id, courier]);
 *   await writeToOutbox(tx, [{ subject: 'delivery.assignment.CourierAssigned', key: id, payload: { courier } }]);
 * });
 */
export async function writeToOutbox(tx: Tx, messages: readonly OutboxMessage[], options: WriteToOutboxOptions = {}): Promise<string[]> {
  const insert = outboxInsert(options.schema ?? tx.context.service, tx.context.tenantId, messages, tx.context.actor);
  if (messages.length === 0) return [];
  await tx.query(insert.statement);
  return [...insert.ids];
}
