import { escapeIdentifier } from 'pg';
import type { Tx } from '../../db/index.ts';
import type { Message, MessageHandler } from '../types.ts';
import { validateSubscription, validateServiceSchema } from '../validate.ts';
import { isUuid } from '../../ids/index.ts';

/** Options for {@link inboxHandler}. */
export interface InboxHandlerOptions {
  /** The subscription the handler serves: the first half of the claim. */
  readonly subscription: string;
  /** The consuming service's schema, holding `inbox` ({@link inboxSchemaSql}). */
  readonly schema: string;
  /**
   * Runs `fn` in one transaction of the consuming service, usually
   * `(m, fn) => unitOfWork(pool, { service, tenantId: m.headers.tenant || null, actor }, fn)`.
   */
  readonly transaction: <T>(message: Message, fn: (tx: Tx) => Promise<T>) => Promise<T>;
  /** The business handler: its writes go through `tx`, so they commit with the claim or not at all. */
  readonly handle: (tx: Tx, message: Message) => Promise<void>;
  /** Called when a message was already handled (a redelivery) and skipped. */
  readonly onDuplicate?: (message: Message) => void;
}

/**
 * Wraps a business handler into an idempotent {@link MessageHandler}: in one transaction it first
 * claims (subscription, message id) in the inbox, then runs the handler. A redelivered message finds
 * the claim and is skipped; a handler that throws rolls the claim back with its writes, so the retry
 * runs it again. The transport acks only after this resolves, i.e. after COMMIT.
 *
 * Two deliveries racing (a lease taken over from a stalled worker) serialise on the primary key: the
 * second INSERT waits for the first transaction, then conflicts and skips.
 *
 * @example
 * transport.subscribe({ subscription: 'delivery-orders', signal }, inboxHandler({
 *   subscription: 'delivery-orders', schema: 'delivery',
 *   transaction: (m, fn) => unitOfWork(pool, { service: 'delivery', tenantId: m.headers.tenant }, fn),
 *   handle: async (tx, m) => { await tx.query('insert into delivery.tasks …', [...]); },
 * }));
 */
export function inboxHandler(options: InboxHandlerOptions): MessageHandler {
  validateSubscription(options.subscription);
  validateServiceSchema(options.schema);
  const claimSql = `insert into ${escapeIdentifier(options.schema)}.inbox (subscription, message_id, message_tenant, subject)
    values ($1, $2, $3, $4) on conflict (subscription, message_id) do nothing`;
  return async (message) => {
    const duplicate = await options.transaction(message, async (tx) => {
      const tenant = isUuid(message.headers.tenant ?? '') ? message.headers.tenant : null;
      const { rowCount } = await tx.query(claimSql, [options.subscription, message.id, tenant, message.subject]);
      if (rowCount === 0) return true;
      await options.handle(tx, message);
      return false;
    });
    if (duplicate) options.onDuplicate?.(message);
  };
}
