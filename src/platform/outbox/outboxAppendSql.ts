import pg from 'pg';
import type { AppendSql, PendingEvent } from '../events/index.ts';
import { ValidationError } from '../errors/index.ts';
import { headerProblem } from '../messaging/index.ts';

const TOKEN = /^[A-Za-z0-9_-]+$/;
/** A lower-case SQL identifier, which is also one subject token. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,40}$/;

/**
 * The event store's `appendSql` that writes every appended event to the service's outbox as an
 * integration message, in the append's own statement (decision 0058): subject
 * `<service>.<aggregate>.<EventType>`, key the stream id, message id the event's message id (so a
 * consumer's causation points at the event), headers correlation / causation from the event metadata,
 * the transaction's tenant, `traceparent` when the event's `extra.traceparent` is a string, `source`
 * the service, `actor` the event's actor as `kind:id` (`''` for none) and `schema-version` the event's
 * (a consumer tells an old payload from a new one, also in a message redriven after a change); the
 * payload is the event's data. The rows are built in the server from the values the append binds
 * anyway, so no second copy of the events is serialised, sent or parsed. Its `batchSql` writes the same
 * rows for a merged append (docs/decisions/0063), each with its own event's tenant; the outbox's batch
 * policy (`outboxBatchPolicySql`) admits them.
 *
 * @example
 * const store = createEventStore({ schema: 'ordering', appendSql: outboxAppendSql('ordering', 'order') });
 */
export function outboxAppendSql(service: string, aggregate: string): AppendSql {
  if (!IDENTIFIER.test(service)) throw new ValidationError('service must be a lower-case SQL identifier and one subject token', { field: 'service' });
  if (!TOKEN.test(aggregate)) throw new ValidationError('aggregate must be one subject token', { field: 'aggregate' });
  const prefix = pg.escapeLiteral(`${service}.${aggregate}.`);
  const source = pg.escapeLiteral(service);
  return Object.freeze({
    sql: `insert into ${pg.escapeIdentifier(service)}.outbox (message_id, subject, aggregate_key, headers, payload)
select e.message_id, ${prefix} || e.type, $2::text,
       jsonb_build_object('correlation', e.metadata ->> 'correlationId',
                          'causation', coalesce(e.metadata ->> 'causationId', ''),
                          'tenant', coalesce(current_setting('brigade.tenant_id', true), ''),
                          'traceparent', case when jsonb_typeof(e.metadata -> 'extra' -> 'traceparent') = 'string'
                                              then e.metadata -> 'extra' ->> 'traceparent' else '' end,
                          'source', ${source},
                          'actor', coalesce((e.metadata -> 'actor' ->> 'kind') || ':' || (e.metadata -> 'actor' ->> 'id'), ''),
                          'schema-version', e.schema_version::text),
       e.data
  from unnest($4::uuid[], $5::text[], $6::int[], $7::jsonb[], $8::jsonb[]) with ordinality as e(message_id, type, schema_version, data, metadata, n)
 order by e.n`,
    batchSql: `insert into ${pg.escapeIdentifier(service)}.outbox (message_id, subject, aggregate_key, headers, payload)
select a.message_id, ${prefix} || a.type, a.stream_id,
       jsonb_build_object('correlation', a.metadata ->> 'correlationId',
                          'causation', coalesce(a.metadata ->> 'causationId', ''),
                          'tenant', a.tenant_id::text,
                          'traceparent', case when jsonb_typeof(a.metadata -> 'extra' -> 'traceparent') = 'string'
                                              then a.metadata -> 'extra' ->> 'traceparent' else '' end,
                          'source', ${source},
                          'actor', coalesce((a.metadata -> 'actor' ->> 'kind') || ':' || (a.metadata -> 'actor' ->> 'id'), ''),
                          'schema-version', a.schema_version::text),
       a.data
  from appended a
 order by a.n`,
    validate: (events: readonly PendingEvent[]) => {
      for (const [i, e] of events.entries()) {
        if (!TOKEN.test(e.type)) throw new ValidationError(`An event leaving through the outbox needs a type that is one subject token, got ${JSON.stringify(e.type)}`, { field: `events[${i}].type` });
        // The stream id becomes the message's key, and a string `extra.traceparent` its traceparent header.
        const traceparent = e.metadata.extra?.traceparent;
        const problem = headerProblem(typeof traceparent === 'string' ? { traceparent } : {}, e.streamId);
        if (problem !== null) throw new ValidationError(`An event leaving through the outbox: ${problem.message}`, { field: `events[${i}].${problem.field === 'key' ? 'streamId' : 'metadata.extra.traceparent'}` });
      }
    },
  });
}
