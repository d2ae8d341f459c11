import type { EventMetadata } from '../../../platform/events/index.ts';
import { revealFields, type ReadKeys } from '../../../platform/temporal/index.ts';

/** Where an order view, or a courier task, carries the customer's sealed address. */
const ADDRESS = ['/deliveryAddress'] as const;
/** An order view cancelled by its customer: their reason is sealed too (decision 0090). */
const ADDRESS_AND_REASON = ['/deliveryAddress', '/cancelReason'] as const;

/**
 * Order views or courier tasks with the delivery address opened (`null` once the customer was erased,
 * decision 0090). Only that field is opened: any other string that looks sealed (a reason, an item's
 * name) is answered as it was written.
 */
export function revealAddresses<T extends { readonly deliveryAddress?: unknown }>(items: readonly T[], readKeys: ReadKeys): Promise<T[]> {
  return revealFields(items, () => ADDRESS, readKeys);
}

/**
 * Order views with the customer's personal fields opened (`null` once the customer was erased,
 * decision 0090): the delivery address, and the cancel reason when the customer cancelled (staff's,
 * an admin's or a system's reason was written in the clear, and is answered as written even when it
 * looks sealed).
 */
export function revealOrders<T extends { readonly deliveryAddress?: unknown; readonly cancelledBy?: unknown }>(orders: readonly T[], readKeys: ReadKeys): Promise<T[]> {
  return revealFields(orders, (order) => (order.cancelledBy === 'customer' ? ADDRESS_AND_REASON : ADDRESS), readKeys);
}

/** Answered events with the fields each one's `metadata.encryption` names opened in its `data`, and only those. */
export function revealEventData<T extends { readonly data: unknown; readonly metadata: EventMetadata }>(events: readonly T[], readKeys: ReadKeys): Promise<T[]> {
  return revealFields(events, (e) => (e.metadata.encryption?.fields ?? []).map((field) => `/data${field}`), readKeys);
}
