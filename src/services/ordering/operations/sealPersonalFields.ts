import type { NewEvent } from '../../../platform/events/index.ts';
import { sealFields, type SubjectKey } from '../../../platform/temporal/index.ts';
import type { OrderEventType } from '../domain/orderEvents.ts';

/** The customer's personal fields of each order event (JSON Pointers into its data): sealed under their key. */
export const PERSONAL_FIELDS: Partial<Record<OrderEventType, readonly string[]>> = Object.freeze({ OrderPlaced: ['/deliveryAddress'] });

/**
 * The events with their personal fields sealed under the customer's key and the envelope saying so
 * (`encryption`), ready to append (decision 0090): the log, the outbox, the broker and the views then
 * hold only the sealed value, which erasing the customer makes unreadable.
 */
export function sealPersonalFields(events: readonly NewEvent[], customerKey: SubjectKey): NewEvent[] {
  return events.map((event) => {
    const fields = PERSONAL_FIELDS[event.type as OrderEventType];
    return fields === undefined ? event : { ...event, ...sealFields(event.data, fields, customerKey) };
  });
}
