import type { CommandCause } from '../ports.ts';

/** The cause a dispatch row keeps (`delivery.dispatch_queue`, migration 0011), as read back. */
export interface CauseColumns {
  readonly causation_id: string | null;
  readonly correlation_id: string | null;
  readonly traceparent: string | null;
}

/** The cause a dispatch row keeps, from its columns (all null for a row queued before they existed). */
export function causeOfRow(row: CauseColumns): CommandCause {
  return {
    ...(row.causation_id === null ? {} : { causationId: row.causation_id }),
    ...(row.correlation_id === null ? {} : { correlationId: row.correlation_id }),
    ...(row.traceparent === null ? {} : { traceparent: row.traceparent }),
  };
}
