import type { EventMetadata } from '../../../platform/events/index.ts';
import { revealFields, type ReadKeys } from '../../../platform/temporal/index.ts';

/** Where an order view, or a courier task, carries the customer's sealed address. */
const ADDRESS = ['/deliveryAddress'] as const;

/**
 * Order views or courier tasks with the delivery address opened (`null` once the customer was erased,
 * decision 0090). Only that field is opened: any other string that looks sealed (a reason, an item's
 * name) is answered as it was written.
 */
export function revealAddresses<T extends { readonly deliveryAddress?: unknown }>(items: readonly T[], readKeys: ReadKeys): Promise<T[]> {
  return revealFields(items, () => ADDRESS, readKeys);
}

/** Answered events with the fields each one's `metadata.encryption` names opened in its `data`, and only those. */
export function revealEventData<T extends { readonly data: unknown; readonly metadata: EventMetadata }>(events: readonly T[], readKeys: ReadKeys): Promise<T[]> {
  return revealFields(events, (e) => (e.metadata.encryption?.fields ?? []).map((field) => `/data${field}`), readKeys);
}
