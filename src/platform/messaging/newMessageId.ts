import { uuidv7 } from '../events/uuidv7.ts';

/**
 * A message id: a UUID v7 (RFC 9562), 48 bits of Unix milliseconds then a counter and random bits, so
 * ids sort by creation time and index well (b-tree appends at the right edge). The same generator as
 * the event store's message ids.
 *
 * @example
 * transport.publish([{ id: newMessageId(), subject: 'ordering.order.placed', key: orderId, headers, payload }]);
 */
export function newMessageId(now?: number): string {
  return uuidv7(now);
}
