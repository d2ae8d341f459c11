import type { MessageCause } from '../../../platform/messaging/index.ts';
import type { AppendOptions, NewEvent } from '../../../platform/events/index.ts';
import type { OrderEvent } from '../domain/orderEvents.ts';
import { isUuid } from '../../../platform/ids/index.ts';

/** Where a command came from, carried into every event's metadata. */
export interface CommandLineage {
  /**
   * Correlation id (a UUID): the HTTP request id when it is one, so a view row leads back to the
   * request; for a command sent because of a message, that message's correlation.
   */
  readonly correlationId?: string;
  /** Causation id (a UUID): the id of the message that caused the command. None for an HTTP request. */
  readonly causationId?: string;
  /** The HTTP request id, kept in `metadata.extra.requestId`. */
  readonly requestId?: string;
  /** The request's W3C `traceparent`, kept in `metadata.extra.traceparent`: the outbox's message header. */
  readonly traceparent?: string;
}

/** A W3C trace context `traceparent` (version 00, ids not all zero), lower-case hex. */
const TRACEPARENT = /^00-(?!0{32})[0-9a-f]{32}-(?!0{16})[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * The lineage of an HTTP request: its id as the correlation id when it is a UUID, and its
 * `traceparent` header when it is a valid one (an invalid one is ignored, as W3C trace context says).
 */
export function requestLineage(requestId: string, traceparent?: string | string[]): CommandLineage {
  const trace = typeof traceparent === 'string' && TRACEPARENT.test(traceparent.trim()) ? { traceparent: traceparent.trim() } : {};
  return isUuid(requestId) ? { correlationId: requestId, requestId, ...trace } : { requestId, ...trace };
}

/** What another service says caused a command it sends: the message it was handling, as {@link messageLineage} reads it. */
export type CommandCause = MessageCause;

/**
 * The lineage of a command sent because of a message (delivery's dispatch, the payment saga, a
 * consumer): causation the message's id, correlation and traceparent the message's, so the events
 * it appends, and their outbox messages, say what caused them. A value that is not a UUID (or not a
 * valid `traceparent`) is left out rather than failing the command: the correlation then defaults to
 * the first event's id, as for a command with no cause.
 *
 * @example
 * messageLineage({ causationId: message.id, correlationId: message.headers.correlation, traceparent: message.headers.traceparent })
 */
export function messageLineage(cause: CommandCause = {}): CommandLineage {
  const uuid = (value: unknown) => (typeof value === 'string' && isUuid(value) ? value : undefined);
  const causationId = uuid(cause.causationId);
  const correlationId = uuid(cause.correlationId);
  const traceparent = typeof cause.traceparent === 'string' && TRACEPARENT.test(cause.traceparent) ? cause.traceparent : undefined;
  return {
    ...(causationId === undefined ? {} : { causationId }),
    ...(correlationId === undefined ? {} : { correlationId }),
    ...(traceparent === undefined ? {} : { traceparent }),
  };
}

/** Decided events as the store's new events (schema version 1), with the request id and traceparent in `extra`. */
export function toNewEvents(events: readonly OrderEvent[], lineage: CommandLineage): NewEvent[] {
  const extra = {
    ...(lineage.requestId === undefined ? {} : { requestId: lineage.requestId }),
    ...(lineage.traceparent === undefined ? {} : { traceparent: lineage.traceparent }),
  };
  return events.map((e) => ({ type: e.type, data: e.data, schemaVersion: 1, ...(Object.keys(extra).length === 0 ? {} : { extra }) }));
}

/** The append options of a lineage. */
export function appendOptions(lineage: CommandLineage): AppendOptions {
  return {
    ...(lineage.correlationId === undefined ? {} : { correlationId: lineage.correlationId }),
    ...(lineage.causationId === undefined ? {} : { causationId: lineage.causationId }),
  };
}
