import { isUuid } from '../ids/index.ts';
import type { Message } from './types.ts';

/** What a command or message sent because of another message carries of it (its lineage). */
export interface MessageCause {
  /** The id of the message that caused it. */
  readonly causationId?: string;
  /** That message's correlation id. */
  readonly correlationId?: string;
  /** That message's W3C `traceparent`. */
  readonly traceparent?: string;
}

/** A header value both transports carry unchanged, as long as a `traceparent` may reasonably be. */
const TRACE_HEADER = /^[\x21-\x7e]{1,512}$/;

/**
 * The cause of what a consumer does because of `message`: its id as the causation (when a UUID, as
 * every message of the platform's outboxes has), its correlation (when a UUID) and its `traceparent`
 * (when one). The receiving side may check them further (ordering keeps only a valid W3C traceparent).
 *
 * @example
 * await orders.cancelOrder({ restaurantId, orderId, reason }, causeOfMessage(message));
 */
export function causeOfMessage(message: Pick<Message, 'id' | 'headers'>): MessageCause {
  const correlation: unknown = message.headers.correlation;
  const traceparent: unknown = message.headers.traceparent;
  return {
    ...(isUuid(message.id) ? { causationId: message.id } : {}),
    ...(typeof correlation === 'string' && isUuid(correlation) ? { correlationId: correlation } : {}),
    ...(typeof traceparent === 'string' && TRACE_HEADER.test(traceparent) ? { traceparent } : {}),
  };
}
