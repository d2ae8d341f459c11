import type { Statement, UnitOfWorkContext } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import type { PendingEvent } from '../events/index.ts';
import { outboxInsert } from './outboxInsert.ts';

const TOKEN = /^[A-Za-z0-9_-]+$/;

/**
 * An event store `onAppend` hook that writes every appended event to the service's outbox as an
 * integration message, in the appending transaction and the append's round trip: subject
 * `<service>.<aggregate>.<EventType>`, key the stream id, message id the event's message id (so a
 * consumer's causation points at the event), headers correlation / causation / tenant from the event
 * metadata and `traceparent` when the event's `extra.traceparent` holds one; the payload is the data.
 *
 * @example
 * const store = createEventStore({ schema: 'ordering', onAppend: outboxOnAppend('ordering', 'order') });
 */
export function outboxOnAppend(service: string, aggregate: string): (context: UnitOfWorkContext, events: readonly PendingEvent[]) => Statement[] {
  if (!TOKEN.test(service)) throw new ValidationError('service must be one subject token', { field: 'service' });
  if (!TOKEN.test(aggregate)) throw new ValidationError('aggregate must be one subject token', { field: 'aggregate' });
  return (context, events) => [
    outboxInsert(
      service,
      context.tenantId,
      events.map((e) => {
        const traceparent = e.metadata.extra?.traceparent;
        return {
          id: e.metadata.messageId,
          subject: `${service}.${aggregate}.${e.type}`,
          key: e.streamId,
          headers: {
            correlation: e.metadata.correlationId,
            causation: e.metadata.causationId ?? '',
            tenant: e.metadata.tenantId,
            traceparent: typeof traceparent === 'string' ? traceparent : '',
          },
          payload: e.data,
        };
      }),
    ).statement,
  ];
}
