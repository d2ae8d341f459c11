import { BrigadeError } from '../../platform/errors/index.ts';
import { causeOfMessage, runConsumer, type MessageHandler, type SubscriptionSpec, type Transport } from '../../platform/messaging/index.ts';
import type { CommitStatementsFn, UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { orderCommands } from './orderCommandsAdapter.ts';
import { isUuid } from '../../platform/ids/index.ts';

/** The subscription of the ordering service to delivery's dispatch failures. */
export const DISPATCH_ALERTS_SUBSCRIPTION = 'ordering-dispatch-alerts';
/** The message delivery publishes when it dead-letters an order (no courier after its last attempt). */
export const DISPATCH_FAILED_SUBJECT = 'delivery.dispatch.DispatchFailed';
/** The durable subscription {@link runDispatchAlertsConsumer} consumes. */
export const DISPATCH_ALERTS_SUBSCRIPTION_SPEC: SubscriptionSpec = { subscription: DISPATCH_ALERTS_SUBSCRIPTION, pattern: DISPATCH_FAILED_SUBJECT };

/**
 * The handler of `delivery.dispatch.DispatchFailed` (payload `{ alertId, orderId, attempts, reason,
 * failedAt }`, tenant header = the restaurant): records the alert on the order as `DispatchAlertRaised`
 * (system actor `dispatch-alerts`), which the live-board projects. The event's causation is the
 * message's id, its correlation and traceparent the message's. No inbox: recording the same
 * alert again appends nothing. An order that is gone or no longer waits for a courier (cancelled,
 * picked up) needs no alert: the message is done. A malformed message fails (retried, then
 * dead-lettered with its error), never dropped silently.
 */
export function dispatchAlertsHandler(deps: { readonly unitOfWork: UnitOfWorkFn; readonly commitStatements: CommitStatementsFn }): MessageHandler {
  const orders = orderCommands(deps, 'dispatch-alerts');
  return async (message) => {
    const p = (message.payload ?? {}) as Record<string, unknown>;
    const valid =
      isUuid(message.headers.tenant) && typeof p.orderId === 'string' && isUuid(p.orderId) && typeof p.alertId === 'string' && p.alertId.length > 0 &&
      Number.isInteger(p.attempts) && typeof p.reason === 'string' && typeof p.failedAt === 'string' && !Number.isNaN(Date.parse(p.failedAt));
    if (!valid) throw new Error(`${message.subject} ${message.id} is not a dispatch failure ({ alertId, orderId, attempts, reason, failedAt } and a tenant)`);
    try {
      await orders.raiseDispatchAlert({
        restaurantId: message.headers.tenant,
        orderId: p.orderId as string,
        alertId: p.alertId as string,
        attempts: p.attempts as number,
        reason: p.reason as string,
        raisedAt: new Date(p.failedAt as string).toISOString(),
      }, causeOfMessage(message));
    } catch (error) {
      if (error instanceof BrigadeError && (error.status === 404 || error.code === 'ORDER_TRANSITION_FORBIDDEN')) return;
      throw error;
    }
  };
}

/** Subscribes {@link dispatchAlertsHandler} to `delivery.dispatch.DispatchFailed` and runs until `signal` aborts. */
export async function runDispatchAlertsConsumer(env: { unitOfWork: UnitOfWorkFn; commitStatements: CommitStatementsFn; transport: Transport }, signal: AbortSignal, options: { readonly onError?: (error: unknown) => void } = {}): Promise<void> {
  await runConsumer(env.transport, DISPATCH_ALERTS_SUBSCRIPTION_SPEC, dispatchAlertsHandler(env), { signal, onError: options.onError });
}
