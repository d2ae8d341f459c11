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
 * @example
 * await unitOfWork(pool, { service: 'delivery', tenantId, actor }, async (tx) => {
 *   await tx.query('update delivery.assignments set courier_id = $2 where id = $1', [id, courier]);
 *   await writeToOutbox(tx, [{ subject: 'delivery.assignment.CourierAssigned', key: id, payload: { courier } }]);
 * });
 */
export async function writeToOutbox(tx: Tx, messages: readonly OutboxMessage[], options: WriteToOutboxOptions = {}): Promise<string[]> {
  const insert = outboxInsert(options.schema ?? tx.context.service, tx.context.tenantId, messages);
  if (messages.length === 0) return [];
  await tx.query(insert.statement);
  return [...insert.ids];
}
