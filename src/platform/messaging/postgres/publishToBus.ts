import type pg from 'pg';
import { BUS_CHANNEL } from '../busSchemaSql.ts';
import type { OutgoingMessage } from '../types.ts';

/** Something that runs one statement: a pool, a client or a caller's transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>>;
}

/**
 * The publish statement over a row source: `input` is a CTE body yielding (id uuid, subject text, key
 * text, headers jsonb, payload jsonb, ord bigint); `result` is the final SELECT (it may read `input`
 * and must read `woken`, which sends the notifications). One statement per batch, so a batch is one
 * round trip and one commit:
 * - the id is the dedupe key: `on conflict do nothing` inserts a re-published id nowhere, and only the
 *   rows actually inserted are fanned out;
 * - fan-out: one delivery per subscription whose pattern matches (regex compiled from the NATS pattern);
 * - NOTIFY once per woken subscription; PostgreSQL delivers it at commit, so a worker never wakes
 *   before the rows are visible.
 */
export function busPublishSql(input: string, result: string): string {
  return `
with input as (${input}
), inserted as (
  insert into brigade_bus.messages (id, subject, key, headers, payload)
  select id, subject, key, headers, payload from input order by ord
  on conflict (id) do nothing
  returning id, subject
), fanned as (
  insert into brigade_bus.deliveries (subscription, message_id)
  select s.name, i.id
  from inserted i join input using (id) join brigade_bus.subscriptions s on i.subject ~ s.pattern_regex
  order by input.ord
  on conflict (subscription, message_id) do nothing
  returning subscription
), woken as (
  select count(pg_notify('${BUS_CHANNEL}', subscription)) as n from (select distinct subscription from fanned) w
)
${result}`;
}

const PUBLISH_SQL = busPublishSql(
  `
  select x.id, x.subject, x.key, x.headers, x.payload, x.ord
  from rows from (jsonb_to_recordset($1::jsonb) as (id uuid, subject text, key text, headers jsonb, payload jsonb))
       with ordinality as x(id, subject, key, headers, payload, ord)`,
  'select n from woken',
);

/**
 * Writes messages to the PostgreSQL bus. With a pool it commits on return (durable with the server's
 * `synchronous_commit`); with a caller's transaction it commits with it (an outbox-less shortcut).
 */
export async function publishToBus(db: Queryable, messages: readonly OutgoingMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const rows = messages.map((m) => ({ id: m.id, subject: m.subject, key: m.key, headers: m.headers, payload: m.payload ?? null }));
  await db.query({ name: 'brigade_bus_publish', text: PUBLISH_SQL, values: [JSON.stringify(rows)] });
}
