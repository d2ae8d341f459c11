import type { Actor } from '../../../platform/db/index.ts';
import { runConsumer, type MessageHandler, type SubscriptionSpec, type Transport } from '../../../platform/messaging/index.ts';
import type { SagaRegistry } from '../../../platform/sagas/index.ts';
import type { UnitOfWorkFn } from '../../../platform/tenancy/index.ts';
import { handleOrderEvent } from './handleOrderEvent.ts';
import { isUuid } from '../../../platform/ids/index.ts';

/** The subscription of the payments service to order events. */
export const PAYMENT_ORDER_EVENTS_SUBSCRIPTION = 'payments-saga';
/** The durable subscription {@link runPaymentOrderEvents} consumes: every order event. */
export const PAYMENT_ORDER_EVENTS_SUBSCRIPTION_SPEC: SubscriptionSpec = { subscription: PAYMENT_ORDER_EVENTS_SUBSCRIPTION, pattern: 'ordering.order.*' };

const SYSTEM: Actor = { kind: 'system', id: 'payments-saga' };

/** Deliveries of one order event before it is given up (the transports' default). */
const MAX_ATTEMPTS = 5;

/**
 * The message handler: one transaction per message, in the message's tenant, as service `payments`.
 * An event whose order has no saga yet is retried (its `OrderPlaced` may come later: a retry or a
 * competing worker reorders deliveries), and ignored on its last attempt, as for an order placed
 * before payments ran.
 */
export function paymentOrderEventsHandler(env: { unitOfWork: UnitOfWorkFn; registry: SagaRegistry }): MessageHandler {
  return async (message) => {
    if (!isUuid(message.headers.tenant)) return;
    const waitForStart = message.attempt < MAX_ATTEMPTS;
    await env.unitOfWork({ service: 'payments', tenantId: message.headers.tenant, actor: SYSTEM }, (tx) => handleOrderEvent(tx, env.registry, message, { waitForStart }));
  };
}

/**
 * Subscribes {@link paymentOrderEventsHandler} to `ordering.order.*` (durable subscription
 * `payments-saga`) and runs until `signal` aborts.
 */
export async function runPaymentOrderEvents(
  env: { unitOfWork: UnitOfWorkFn; registry: SagaRegistry; transport: Transport },
  signal: AbortSignal,
  options: { readonly onError?: (error: unknown) => void } = {},
): Promise<void> {
  await runConsumer(env.transport, PAYMENT_ORDER_EVENTS_SUBSCRIPTION_SPEC, paymentOrderEventsHandler(env), { signal, maxAttempts: MAX_ATTEMPTS, onError: options.onError });
}
