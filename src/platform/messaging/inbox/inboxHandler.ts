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

/** The handler {@link inboxHandler} makes, with the inbox check its subscription is to be given. */
export interface InboxMessageHandler extends MessageHandler {
  /**
   * Whether the inbox holds the claim of `message` in this subscription, i.e. it was handled: pass it
   * as the subscription's `handled` (`SubscribeOptions.handled`), so that a message whose worker
   * was lost between the commit and the ack of its last attempt is acked, not dead-lettered. Runs in
   * `transaction`, as the handler does.
   */
  readonly handled: (message: Message) => Promise<boolean>;
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
 * Its `handled` is the check the subscription asks of a message past its last attempt whose last run
 * was never settled: give it, or such a message is parked with its outcome unknown though it was handled.
 *
 * @example
 * const handler = inboxHandler({
 *   subscription: 'delivery-orders', schema: 'delivery',
 *   transaction: (m, fn) => unitOfWork(pool, { service: 'delivery', tenantId: m.headers.tenant }, fn),
 *   handle: async (tx, m) => { await tx.query('insert into delivery.tasks …', [...]); },
 * });
 * transport.subscribe({ subscription: 'delivery-orders', handled: handler.handled, signal }, handler);
 */
export function inboxHandler(options: InboxHandlerOptions): InboxMessageHandler {
  validateSubscription(options.subscription);
  validateServiceSchema(options.schema);
  const claimSql = `insert into ${escapeIdentifier(options.schema)}.inbox (subscription, message_id, message_tenant, subject)
    values ($1, $2, $3, $4) on conflict (subscription, message_id) do nothing`;
  const handledSql = `select from ${escapeIdentifier(options.schema)}.inbox where subscription = $1 and message_id = $2`;
  const handled = async (message: Message): Promise<boolean> =>
    options.transaction(message, async (tx) => ((await tx.query(handledSql, [options.subscription, message.id])).rowCount ?? 0) > 0);
  const handler = async (message: Message): Promise<void> => {
    const duplicate = await options.transaction(message, async (tx) => {
      const tenant = isUuid(message.headers.tenant ?? '') ? message.headers.tenant : null;
      const { rowCount } = await tx.query(claimSql, [options.subscription, message.id, tenant, message.subject]);
      if (rowCount === 0) return true;
      await options.handle(tx, message);
      return false;
    });
    if (duplicate) options.onDuplicate?.(message);
  };
  return Object.assign(handler, { handled });
}
