import { createEventStore, type EventStore } from '../../platform/events/index.ts';
import { outboxAppendSql } from '../../platform/outbox/index.ts';

/**
 * The ordering event store: streams `order-<id>` in schema `ordering`; every appended event also
 * leaves through the outbox in the same transaction, as `ordering.order.<Type>`.
 */
export function createOrderStore(): EventStore {
  return createEventStore({ schema: 'ordering', appendSql: outboxAppendSql('ordering', 'order') });
}
