import pg from 'pg';
import { actorName, type Actor, type Statement } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { headerProblem, newMessageId } from '../messaging/index.ts';
import type { OutboxMessage } from './types.ts';
import { isUuid } from '../ids/index.ts';

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,40}$/;
const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){2,}$/;

/** An outbox INSERT ready to send, and the message ids it writes, in order. */
export interface OutboxInsert {
  readonly statement: Statement;
  readonly ids: readonly string[];
}

/**
 * Validates messages and builds the one INSERT that writes them to `<schema>.outbox` (all values
 * bound). `tenantId` is the writing transaction's tenant, the default of each message's `tenant`
 * header; `actor` its actor, the default of `actor` (`kind:id`, `''` for none). `source` defaults to the
 * schema (the service) and `schema-version` to `'1'` (a producer that changes a payload's shape sends
 * its new version). Nothing is sent: `writeToOutbox` sends it in a transaction, and a service's
 * `commitStatements` call can send it with its business statements in one round trip.
 */
export function outboxInsert(schema: string, tenantId: string | null | undefined, messages: readonly OutboxMessage[], actor?: Actor | null): OutboxInsert {
  if (!IDENTIFIER.test(schema)) throw new ValidationError('schema must be a lower-case SQL identifier', { field: 'schema' });
  const ids: string[] = [];
  const subjects: string[] = [];
  const keys: string[] = [];
  const headers: string[] = [];
  const payloads: string[] = [];
  const actorHeader = actor == null ? '' : actorName(actor);
  for (const m of messages) {
    const id = m.id ?? newMessageId();
    if (!isUuid(id)) throw new ValidationError(`Message id must be a UUID, got ${JSON.stringify(id)}`, { field: 'id' });
    if (typeof m.subject !== 'string' || !SUBJECT.test(m.subject)) {
      throw new ValidationError(`Subjects are <service>.<aggregate>.<type>, got ${JSON.stringify(m.subject)}`, { field: 'subject' });
    }
    if (typeof m.key !== 'string' || m.key.length < 1 || m.key.length > 200) throw new ValidationError('Every message needs an aggregate key of 1–200 characters', { field: 'key' });
    const h = m.headers ?? {};
    const problem = headerProblem(h, m.key);
    if (problem !== null) throw new ValidationError(problem.message, { field: problem.field });
    ids.push(id);
    subjects.push(m.subject);
    keys.push(m.key);
    headers.push(
      JSON.stringify({
        ...h,
        correlation: h.correlation || id,
        causation: h.causation ?? '',
        tenant: h.tenant ?? tenantId ?? '',
        traceparent: h.traceparent ?? '',
        source: h.source ?? schema,
        actor: h.actor ?? actorHeader,
        'schema-version': h['schema-version'] ?? '1',
      }),
    );
    payloads.push(JSON.stringify(m.payload ?? null));
  }
  // unnest keeps the array order, and identity values are drawn in that order, so a batch's messages
  // are relayed in the order given.
  return {
    ids,
    statement: {
      name: `brigade_outbox_${schema}`,
      text: `insert into ${pg.escapeIdentifier(schema)}.outbox (message_id, subject, aggregate_key, headers, payload)
     select * from unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[])`,
      values: [ids, subjects, keys, headers, payloads],
    },
  };
}
