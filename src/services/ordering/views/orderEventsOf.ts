import type { FoldEvent } from '../../../platform/events/index.ts';
import type { OrderEventData, OrderEventType } from '../domain/orderEvents.ts';
import { isUuid } from '../../../platform/ids/index.ts';

/** The status an event moves an order to, for the events that move it. */
export const STATUS_OF: Partial<Record<OrderEventType, string>> = Object.freeze({
  OrderPlaced: 'placed',
  OrderAccepted: 'accepted',
  OrderRejected: 'rejected',
  OrderReady: 'ready',
  OrderPickedUp: 'picked_up',
  OrderDelivered: 'delivered',
  OrderCancelled: 'cancelled',
});

/** Statuses after which an order leaves the live lists (board, courier tasks). */
export const FINISHED_STATUSES: readonly string[] = Object.freeze(['delivered', 'rejected', 'cancelled']);

/**
 * "The order of view row `t` is open", as SQL with the statuses written out: the predicate of the
 * partial indexes of open orders (ordering migration 0033), which the planner uses only for a query
 * that states it with the same constants (a bound array would not do).
 */
export const OPEN_ORDER_SQL = `t.status not in (${FINISHED_STATUSES.map((s) => `'${s}'`).join(', ')})`;

/** The (tenant, order) key of an order event: from the stream id `order-<uuid>`, or null for another stream. */
export function orderKey(event: FoldEvent): readonly string[] | null {
  if (!event.streamId.startsWith('order-')) return null;
  const orderId = event.streamId.slice('order-'.length);
  return isUuid(orderId) ? [event.metadata.tenantId, orderId.toLowerCase()] : null;
}

/** The event's data, typed by its type. */
export function dataOf<T extends OrderEventType>(event: FoldEvent, _type: T): OrderEventData[T] {
  return event.data as OrderEventData[T];
}

/** A UUID from event data, or null when absent or malformed (a view never fails on a bad field). */
export function uuidOrNull(value: unknown): string | null {
  return typeof value === 'string' && isUuid(value) ? value.toLowerCase() : null;
}

/**
 * Whether the event places its order: the first event of an order's stream, from which each view's
 * fold builds the row without the row before it (the views' `startsRow`).
 */
export function placesOrder(event: FoldEvent): boolean {
  return event.type === 'OrderPlaced';
}
