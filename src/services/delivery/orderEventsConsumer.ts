import type { Actor } from '../../platform/db/index.ts';
import { causeOfMessage, inboxHandler, InvalidMessageError, runConsumer, type InboxMessageHandler, type Message, type SubscriptionSpec, type Transport } from '../../platform/messaging/index.ts';
import type { UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { enqueueOrder } from './operations/enqueueOrder.ts';
import { finishOrder } from './operations/finishOrder.ts';
import { startPickupDeadline } from './operations/pickupDeadlines.ts';
import { recordCourierAssigned } from './operations/recordCourierAssigned.ts';
import { recordCourierUnassigned } from './operations/recordCourierUnassigned.ts';
import type { RestaurantDirectory } from './ports.ts';
import { isUuid } from '../../platform/ids/index.ts';

/** The subscription of the delivery service to order events. */
export const ORDER_EVENTS_SUBSCRIPTION = 'delivery-dispatch';
/** The durable subscription {@link runOrderEventsConsumer} consumes: every order event. */
export const ORDER_EVENTS_SUBSCRIPTION_SPEC: SubscriptionSpec = { subscription: ORDER_EVENTS_SUBSCRIPTION, pattern: 'ordering.order.*' };

/** Options of {@link orderEventsHandler}. */
export interface OrderEventsOptions {
  /** The order event that puts an order in the dispatch queue. Default `OrderReady`. */
  readonly enqueueOn?: 'OrderReady' | 'OrderAccepted';
  /**
   * How long a courier has to pick up an order once it is both ready and assigned to them, in ms
   * (the composition root passes `PICKUP_DEADLINE_MINUTES`). Default 15 minutes.
   */
  readonly pickupWithinMs?: number;
}

/** {@link OrderEventsOptions.pickupWithinMs} by default: 15 minutes. */
export const DEFAULT_PICKUP_WITHIN_MS = 15 * 60_000;

const SYSTEM: Actor = { kind: 'system', id: 'delivery-dispatch' };
const COURIER_ASSIGNED = 'ordering.order.CourierAssigned';
const COURIER_UNASSIGNED = 'ordering.order.CourierUnassigned';
const ORDER_READY = 'ordering.order.OrderReady';

/**
 * The handler of `ordering.order.*` for the delivery service, made idempotent by the inbox
 * (`delivery.inbox`): `OrderReady` (or `OrderAccepted`) queues the order in its restaurant's city
 * (asked of the restaurant directory; the restaurant is the message's tenant) with the message as the
 * cause of its dispatch (the assignment and a dead letter name it), `CourierAssigned` makes
 * that courier busy with the order and settles its dispatch (staff's choice wins over the dispatch's,
 * see {@link recordCourierAssigned}), `OrderDelivered` and `OrderCancelled` end its dispatch and free
 * its courier. An `OrderCancelled` after the pick-up (its `pickedUpBy`: an order lost in transit,
 * decision 0088) takes that courier offline instead: they vanished with the order, and are not handed
 * another one until they say they are available again. Once an order is both ready (`OrderReady`,
 * whichever event queued it) and assigned, its courier's pick-up deadline starts
 * ({@link startPickupDeadline}, `pickupWithinMs`); `CourierUnassigned` (the deadline missed, ordering
 * took the courier off, or the courier's tokens were revoked) queues the order again and takes that courier off dispatch
 * ({@link recordCourierUnassigned}). Other order events are claimed and ignored. A message of the
 * subjects acted on that cannot be handled (a tenant, order or courier id that is not a UUID, an
 * assignment number that is not one) throws `InvalidMessageError` before the inbox claims it: retried,
 * then dead-lettered, never dropped.
 */
export function orderEventsHandler(env: { unitOfWork: UnitOfWorkFn; restaurants: RestaurantDirectory }, options: OrderEventsOptions = {}): InboxMessageHandler {
  const enqueueOn = `ordering.order.${options.enqueueOn ?? 'OrderReady'}`;
  const pickupWithinMs = options.pickupWithinMs ?? DEFAULT_PICKUP_WITHIN_MS;
  /** The inbox-wrapped handler; `city` is the restaurant's city for the events that may add a row, else null. */
  const handlerWith = (city: string | null) =>
    inboxHandler({
      subscription: ORDER_EVENTS_SUBSCRIPTION,
      schema: 'delivery',
      transaction: (_message, fn) => env.unitOfWork({ service: 'delivery', actor: SYSTEM }, fn),
      handle: async (tx, message) => {
        // The subjects acted on below were validated by the outer handler (a malformed one throws there).
        const tenantId = message.headers.tenant;
        const { orderId, courierId, assignment, pickedUpBy, reason } = (message.payload ?? {}) as { orderId?: unknown; courierId?: unknown; assignment?: unknown; pickedUpBy?: unknown; reason?: unknown };
        if (!isUuid(tenantId) || typeof orderId !== 'string' || !isUuid(orderId)) return;
        if (message.subject === enqueueOn && city !== null) await enqueueOrder(tx, { tenantId, orderId, city, cause: causeOfMessage(message) });
        // After the enqueue (which adds the row of an order queued on OrderReady): the order is ready now.
        if (message.subject === ORDER_READY) await startPickupDeadline(tx, { tenantId, orderId, withinMs: pickupWithinMs, ready: true });
        if (message.subject === enqueueOn || message.subject === ORDER_READY) return;
        if (message.subject === COURIER_ASSIGNED && city !== null && typeof courierId === 'string' && isUuid(courierId)) {
          const numbered = Number.isSafeInteger(assignment) && (assignment as number) > 0 ? (assignment as number) : null;
          await recordCourierAssigned(tx, { tenantId, orderId, courierId, messageId: message.id, assignment: numbered, city });
          await startPickupDeadline(tx, { tenantId, orderId, withinMs: pickupWithinMs });
        } else if (message.subject === COURIER_UNASSIGNED && typeof courierId === 'string' && isUuid(courierId) && isAssignmentNumber(assignment)) {
          await recordCourierUnassigned(tx, { tenantId, orderId, courierId, assignment, ...(typeof reason === 'string' ? { reason } : {}) });
        } else if (message.subject === 'ordering.order.OrderDelivered') await finishOrder(tx, { tenantId, orderId, reason: 'delivered' });
        else if (message.subject === 'ordering.order.OrderCancelled') {
          await finishOrder(tx, { tenantId, orderId, reason: 'cancelled', ...(typeof pickedUpBy === 'string' && isUuid(pickedUpBy) ? { pickedUpBy } : {}) });
        }
      },
    });
  const others = handlerWith(null);
  const actedOn = new Set([enqueueOn, ORDER_READY, COURIER_ASSIGNED, COURIER_UNASSIGNED, 'ordering.order.OrderDelivered', 'ordering.order.OrderCancelled']);
  const handler = async (message: Message): Promise<void> => {
    // A malformed message of a subject delivery acts on fails, before the inbox claims it: the transport
    // retries it, then parks it as a dead letter with this error (it used to be claimed and ignored,
    // silently dropped). Other order events are not read, so their payloads are not checked.
    if (actedOn.has(message.subject)) assertOrderEvent(message);
    if (message.subject !== enqueueOn && message.subject !== COURIER_ASSIGNED) return others(message);
    // The city is asked before the transaction (the directory runs its own), so no connection is held
    // while waiting for another. An unknown restaurant throws: retried, then dead-lettered.
    const restaurant = await env.restaurants.restaurant(message.headers.tenant);
    if (restaurant === null) throw new Error(`restaurant ${message.headers.tenant} of order event ${message.id} is not in the directory`);
    return handlerWith(restaurant.city)(message);
  };
  // One inbox (subscription, schema) for every subject: any of the wrapped handlers' checks will do.
  return Object.assign(handler, { handled: others.handled });
}

/**
 * Throws {@link InvalidMessageError} (`MESSAGE_INVALID`) for an order event delivery acts on that it
 * cannot act on: the tenant header or `orderId` not a UUID, or, for CourierAssigned and
 * CourierUnassigned, `courierId` not one (for CourierUnassigned, `assignment` not a positive integer), or, for OrderCancelled, a `pickedUpBy` that is there and not one.
 */
function assertOrderEvent(message: Message): void {
  const { orderId, courierId, pickedUpBy } = (message.payload ?? {}) as { orderId?: unknown; courierId?: unknown; pickedUpBy?: unknown };
  const bad = (field: string, value: unknown) =>
    new InvalidMessageError(
      `${message.subject} ${message.id} cannot be handled by delivery: its ${field} (${JSON.stringify(value) ?? 'missing'}) is not a UUID; ` +
        'fix the publisher, then drop the dead letter (brigade dlq drop) or redrive a corrected copy',
      field,
    );
  if (!isUuid(message.headers.tenant)) throw bad('tenant header', message.headers.tenant);
  if (typeof orderId !== 'string' || !isUuid(orderId)) throw bad('orderId', orderId);
  if ((message.subject === COURIER_ASSIGNED || message.subject === COURIER_UNASSIGNED) && (typeof courierId !== 'string' || !isUuid(courierId))) throw bad('courierId', courierId);
  if (message.subject === COURIER_UNASSIGNED && !isAssignmentNumber((message.payload as { assignment?: unknown }).assignment)) {
    const { assignment } = message.payload as { assignment?: unknown };
    throw new InvalidMessageError(
      `${message.subject} ${message.id} cannot be handled by delivery: its assignment (${JSON.stringify(assignment) ?? 'missing'}) is not a positive integer; ` +
        'fix the publisher, then drop the dead letter (brigade dlq drop) or redrive a corrected copy',
      'assignment',
    );
  }
  if (message.subject === 'ordering.order.OrderCancelled' && pickedUpBy !== undefined && (typeof pickedUpBy !== 'string' || !isUuid(pickedUpBy))) throw bad('pickedUpBy', pickedUpBy);
}

/** Ordering's number of an assignment: a positive integer. */
function isAssignmentNumber(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0;
}

/**
 * Subscribes the handler through the transport (creating the durable subscription on
 * `ordering.order.*`) and runs until `signal` aborts.
 */
export async function runOrderEventsConsumer(
  env: { unitOfWork: UnitOfWorkFn; restaurants: RestaurantDirectory; transport: Transport },
  signal: AbortSignal,
  options: OrderEventsOptions & { readonly onError?: (error: unknown) => void } = {},
): Promise<void> {
  const handler = orderEventsHandler(env, options);
  // The inbox check: an order event whose worker was lost between its commit and its ack on its last attempt is acked, not parked.
  await runConsumer(env.transport, ORDER_EVENTS_SUBSCRIPTION_SPEC, handler, { signal, handled: handler.handled, onError: options.onError });
}
