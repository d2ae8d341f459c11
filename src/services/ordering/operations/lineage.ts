import type { AppendOptions, NewEvent } from '../../../platform/events/index.ts';
import type { OrderEvent } from '../domain/orderEvents.ts';
import { isUuid } from '../../../platform/ids/index.ts';

/** Where a command came from, carried into every event's metadata. */
export interface CommandLineage {
  /** Correlation id (a UUID): the HTTP request id when it is one, so a view row leads back to the request. */
  readonly correlationId?: string;
  /** The HTTP request id, kept in `metadata.extra.requestId`. */
  readonly requestId?: string;
}

/** The lineage of an HTTP request: its id as the correlation id when it is a UUID. */
export function requestLineage(requestId: string): CommandLineage {
  return isUuid(requestId) ? { correlationId: requestId, requestId } : { requestId };
}

/** Decided events as the store's new events (schema version 1), with the request id in `extra`. */
export function toNewEvents(events: readonly OrderEvent[], lineage: CommandLineage): NewEvent[] {
  return events.map((e) => ({ type: e.type, data: e.data, schemaVersion: 1, ...(lineage.requestId === undefined ? {} : { extra: { requestId: lineage.requestId } }) }));
}

/** The append options of a lineage. */
export function appendOptions(lineage: CommandLineage): AppendOptions {
  return lineage.correlationId === undefined ? {} : { correlationId: lineage.correlationId };
}
