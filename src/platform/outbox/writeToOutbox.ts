import pg from 'pg';
import type { Tx } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';
import { newMessageId } from '../messaging/index.ts';
import type { OutboxMessage } from './types.ts';

/** Options for {@link writeToOutbox}. */
export interface WriteToOutboxOptions {
  /** Schema holding the outbox. Default: the transaction's service (`tx.context.service`). */
  readonly schema?: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,40}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const SUBJECT = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+){2,}$/;

/**
 * Writes messages to the service's outbox in the caller's transaction, so they commit (and are later
 * published by the relay) exactly when the business change does. One INSERT for the whole batch, all
 * values bound. Returns the message ids, in order.
 *
 * @example
 * await unitOfWork(pool, { service: 'delivery', tenantId, actor }, async (tx) => {
 *   await tx.query('update delivery.assignments set courier_id = $2 where id = $1', [id, courier]);
 *   await writeToOutbox(tx, [{ subject: 'delivery.assignment.CourierAssigned', key: id, payload: { courier } }]);
 * });
 */
export async function writeToOutbox(tx: Tx, messages: readonly OutboxMessage[], options: WriteToOutboxOptions = {}): Promise<string[]> {
  const schema = options.schema ?? tx.context.service;
  if (!IDENTIFIER.test(schema)) throw new ValidationError('schema must be a lower-case SQL identifier', { field: 'schema' });
  if (messages.length === 0) return [];
  const tenant = tx.context.tenantId ?? '';
  const ids: string[] = [];
  const subjects: string[] = [];
  const keys: string[] = [];
  const headers: string[] = [];
  const payloads: string[] = [];
  for (const m of messages) {
    const id = m.id ?? newMessageId();
    if (!UUID.test(id)) throw new ValidationError(`Message id must be a UUID, got ${JSON.stringify(id)}`, { field: 'id' });
    if (typeof m.subject !== 'string' || !SUBJECT.test(m.subject)) {
      throw new ValidationError(`Subjects are <service>.<aggregate>.<type>, got ${JSON.stringify(m.subject)}`, { field: 'subject' });
    }
    if (typeof m.key !== 'string' || m.key.length < 1 || m.key.length > 200) throw new ValidationError('Every message needs an aggregate key of 1–200 characters', { field: 'key' });
    const h = m.headers ?? {};
    for (const [name, value] of Object.entries(h)) {
      if (typeof value !== 'string') throw new ValidationError(`Header ${name} must be a string`, { field: `headers.${name}` });
    }
    ids.push(id);
    subjects.push(m.subject);
    keys.push(m.key);
    headers.push(JSON.stringify({ ...h, correlation: h.correlation || id, causation: h.causation ?? '', tenant: h.tenant ?? tenant, traceparent: h.traceparent ?? '' }));
    payloads.push(JSON.stringify(m.payload ?? null));
  }
  // unnest keeps the array order, and identity values are drawn in that order, so a batch's messages
  // are relayed in the order given.
  await tx.query(
    `insert into ${pg.escapeIdentifier(schema)}.outbox (message_id, subject, aggregate_key, headers, payload)
     select * from unnest($1::uuid[], $2::text[], $3::text[], $4::jsonb[], $5::jsonb[])`,
    [ids, subjects, keys, headers, payloads],
  );
  return ids;
}
