import type { NewEvent } from '../../../platform/events/index.ts';
import { sealFields, type SubjectKey } from '../../../platform/temporal/index.ts';

/**
 * The customer's personal fields of an order event (JSON Pointers into its data), sealed under their
 * key (decision 0090): the delivery address of an OrderPlaced, and the reason of an OrderCancelled the
 * customer sent (free text, which may say where they live or how to call them). A reason written by
 * staff, an admin or a system actor is theirs, not the customer's: it stays in the clear.
 */
export function personalFieldsOf(event: Pick<NewEvent, 'type' | 'data'>): readonly string[] {
  if (event.type === 'OrderPlaced') return ['/deliveryAddress'];
  if (event.type === 'OrderCancelled' && (event.data as { by?: unknown }).by === 'customer') return ['/reason'];
  return [];
}

/** Whether any of `events` has a personal field to seal: the customer's key is needed before the append. */
export function hasPersonalFields(events: readonly Pick<NewEvent, 'type' | 'data'>[]): boolean {
  return events.some((event) => personalFieldsOf(event).length > 0);
}

/**
 * The events with their personal fields sealed under the customer's key and the envelope saying so
 * (`encryption`), ready to append (decision 0090): the log, the outbox, the broker and the views then
 * hold only the sealed value, which erasing the customer makes unreadable.
 */
export function sealPersonalFields(events: readonly NewEvent[], customerKey: SubjectKey): NewEvent[] {
  return events.map((event) => {
    const fields = personalFieldsOf(event);
    return fields.length === 0 ? event : { ...event, ...sealFields(event.data, fields, customerKey) };
  });
}
