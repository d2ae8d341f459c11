import type { Message } from '../../../platform/messaging/index.ts';
import { isUuid } from '../../../platform/ids/index.ts';
import type { CommandCause } from '../ports.ts';

/** A header value both transports carry unchanged, as long as a `traceparent` may reasonably be. */
const TRACE_HEADER = /^[\x21-\x7e]{1,512}$/;

/** The cause a dispatch row keeps (`delivery.dispatch_queue`, migration 0011), as read back. */
export interface CauseColumns {
  readonly causation_id: string | null;
  readonly correlation_id: string | null;
  readonly traceparent: string | null;
}

/**
 * The cause of what delivery does because of `message`: its id as the causation, its correlation
 * (when a UUID, as every message of the platform's outboxes has) and its `traceparent` (when one).
 * Kept on the order's dispatch row, it travels with the assignment to ordering and with
 * `DispatchFailed` to the bus.
 */
export function causeOfMessage(message: Pick<Message, 'id' | 'headers'>): CommandCause {
  const correlation: unknown = message.headers.correlation;
  const traceparent: unknown = message.headers.traceparent;
  return {
    ...(isUuid(message.id) ? { causationId: message.id } : {}),
    ...(typeof correlation === 'string' && isUuid(correlation) ? { correlationId: correlation } : {}),
    ...(typeof traceparent === 'string' && TRACE_HEADER.test(traceparent) ? { traceparent } : {}),
  };
}

/** The cause a dispatch row keeps, from its columns (all null for a row queued before they existed). */
export function causeOfRow(row: CauseColumns): CommandCause {
  return {
    ...(row.causation_id === null ? {} : { causationId: row.causation_id }),
    ...(row.correlation_id === null ? {} : { correlationId: row.correlation_id }),
    ...(row.traceparent === null ? {} : { traceparent: row.traceparent }),
  };
}
