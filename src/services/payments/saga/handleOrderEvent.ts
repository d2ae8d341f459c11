import type { Tx } from '../../../platform/db/index.ts';
import { causeOfMessage, type Message } from '../../../platform/messaging/index.ts';
import { advanceSaga, SagaNotFoundError, startSaga, type SagaRegistry } from '../../../platform/sagas/index.ts';
import { PAYMENT_SAGA, type PaymentSagaInput } from './paymentSaga.ts';
import { isUuid } from '../../../platform/ids/index.ts';
import { BrigadeError } from '../../../platform/errors/index.ts';
import { findOrderEndedBeforeStart } from './findOrderEndedBeforeStart.ts';
import { rememberOrderEnded, takeOrderStartLock } from './rememberOrderEnded.ts';

/** 409: an order event arrived before the order's saga was started by its `OrderPlaced`: delivered again later. */
export class PaymentSagaNotStartedError extends BrigadeError {
  constructor(orderId: string, type: string) {
    super('PAYMENT_SAGA_NOT_STARTED', 409, `${type} of order ${orderId} arrived before its OrderPlaced started the payment: it is delivered again after a backoff`, { details: { orderId, type } });
  }
}

const PREFIX = 'ordering.order.';

/** The saga event each order event becomes; order events not listed are no business of payments. */
const EVENTS: Readonly<Record<string, string>> = {
  OrderAccepted: 'order.accepted',
  OrderRejected: 'order.rejected',
  OrderCancelled: 'order.cancelled',
  CourierAssigned: 'courier.assigned',
  OrderDelivered: 'order.delivered',
};

/** Order events that end an order before anything is charged: one that comes before its saga is remembered. */
const ENDS = new Set(['OrderCancelled', 'OrderRejected'] as const);
const isEnd = (type: string): type is 'OrderCancelled' | 'OrderRejected' => (ENDS as Set<string>).has(type);

/** What {@link handleOrderEvent} did. */
export type OrderEventOutcome = 'started' | 'advanced' | 'ignored';

/**
 * Maps an `ordering.order.<Type>` integration message (payload: the event's data; `headers.tenant`:
 * the restaurant) to the payment saga of its order, in the caller's transaction (run it in the
 * message's tenant, service `payments`): `OrderPlaced` starts the saga (id = order id; a redelivery
 * changes nothing) with the message as the cause of the saga's commands to ordering (its id,
 * correlation and traceparent; none when the message has no id), the others advance it. Redeliveries are harmless without an inbox: the start is
 * idempotent by id and every handler ignores an event it has already acted on. An event of an order
 * that has no saga is ignored (an order placed before payments ran), unless `waitForStart`: then it
 * throws {@link PaymentSagaNotStartedError}, so that the transport delivers it again once its
 * `OrderPlaced`, delayed by a retry or a competing worker, has started the saga. An ignored
 * `OrderCancelled` or `OrderRejected` is remembered (`payments.orders_ended_before_start`): an
 * `OrderPlaced` that comes later still (a failed handler, a dead letter redriven, a restaurant moved)
 * starts a saga that ends at once, charging nothing. Before, it authorized a charge for an order that
 * had ended, refunded only when the accept deadline asked ordering.
 *
 * @example
 * await unitOfWork(pool, { service: 'payments', tenantId: message.headers.tenant, actor }, (tx) => handleOrderEvent(tx, sagas, message));
 */
export async function handleOrderEvent(
  tx: Tx,
  registry: SagaRegistry,
  message: Pick<Message, 'subject' | 'headers' | 'payload'> & { readonly id?: string },
  options: { readonly waitForStart?: boolean } = {},
): Promise<OrderEventOutcome> {
  if (!message.subject.startsWith(PREFIX)) return 'ignored';
  const type = message.subject.slice(PREFIX.length);
  const data = (message.payload ?? {}) as Record<string, unknown>;
  const orderId = data.orderId;
  if (typeof orderId !== 'string' || !isUuid(orderId) || !isUuid(message.headers.tenant)) return 'ignored';
  if (type === 'OrderPlaced') {
    // One round trip more per OrderPlaced: the order's end, if payments took it first (waiting for a
    // consumer writing one right now). Redeliveries read it too; the start is a no-op for them anyway.
    const ended = await findOrderEndedBeforeStart(tx, message.headers.tenant, orderId);
    const input: PaymentSagaInput = {
      orderId,
      restaurantId: message.headers.tenant,
      customerId: String(data.customerId),
      total: Number(data.total),
      currency: String(data.currency),
      ...(message.id === undefined ? {} : { cause: causeOfMessage(message as Pick<Message, 'id' | 'headers'>) }),
      // The accept deadline runs from it (a backlog of this consumer no longer delays it); one that is
      // not a date is left out, and the deadline runs from now as it did before placedAt was read.
      ...(typeof data.placedAt === 'string' && !Number.isNaN(Date.parse(data.placedAt)) ? { placedAt: data.placedAt } : {}),
      ...(ended === null ? {} : { endedBeforeStart: ended }),
    };
    const { created } = await startSaga(tx, registry, { name: PAYMENT_SAGA, id: orderId, input });
    return created ? 'started' : 'ignored';
  }
  const event = EVENTS[type];
  if (event === undefined) return 'ignored';
  const advance = async () => {
    const result = await advanceSaga(tx, registry, orderId, { type: event, data }, { tenantId: message.headers.tenant });
    return result.applied ? 'advanced' : 'ignored';
  };
  try {
    return await advance();
  } catch (error) {
    if (!(error instanceof SagaNotFoundError)) throw error;
    if (options.waitForStart === true) throw new PaymentSagaNotStartedError(orderId, type);
    if (!isEnd(type)) return 'ignored';
  }
  // The order ended and no saga has heard of it: remember the end for an OrderPlaced still to come.
  // Under the order's start lock, look for the saga once more (an OrderPlaced handled meanwhile, whose
  // transaction held the lock, has committed it by now); an OrderPlaced after this reads the end.
  await takeOrderStartLock(tx, orderId);
  try {
    return await advance();
  } catch (error) {
    if (!(error instanceof SagaNotFoundError)) throw error;
  }
  await rememberOrderEnded(tx, message.headers.tenant, orderId, type);
  return 'ignored';
}
