/**
 * What one append costs the PostgreSQL backend inside a group-commit batch, and what each part of the
 * outbox row adds: CPU time of ONE backend (`/proc/<pid>/schedstat`, nanoseconds), one connection,
 * nothing else running against it: the figure moves far less with the machine's load than the
 * throughput benchmarks do (repeats within one run agree within about 5 %; compare variants within one
 * run, not across runs).
 *
 * Each batch holds BENCH_UNITS units (default 16) as the group committer sends them: per unit the
 * settings statement, the tenant fence and the ordering store's append (with its outbox rows in the same
 * statement), one Sync, one commit. Variants:
 *   production                the unit as above
 *   settings and fence merged the settings and the fence in one statement (an alternative)
 *   append only               settings once per batch, no fence (what the settings and fence cost)
 *   store alone               the event store without the outbox row
 *   merged (prototype)        every unit of the batch, each with its own tenant, in ONE statement: per
 *                             unit the head read and version check (a lateral join on the primary key),
 *                             the event row and the outbox row; one settings statement and one fence
 *                             call for the batch. Not the product: it needs Row-Level Security to accept
 *                             the batch's tenants (policies added in the scratch database only), see
 *                             MERGED_DDL. It measures what merging a batch's appends would save.
 * Then, in a scratch database, the outbox's parts are dropped one at a time (checks, the unique message
 * id, the wake-up trigger, Row-Level Security) and the production unit measured after each: what each
 * one costs. Nothing is dropped anywhere but in that scratch database.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/event-store/unitCost.ts
 *   BENCH_UNITS=16 BENCH_BATCHES=200 BENCH_REPEATS=3
 */
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { migrationSets } from '../../src/composition/services.ts';
import { dropDatabase, freshDatabase } from '../database.ts';
import { sendBatch, type Statement, type UnitOfWorkContext } from '../../src/platform/db/index.ts';
import { transactionSetup } from '../../src/platform/db/transactionSetup.ts';
import { createEventStore, type EventStore } from '../../src/platform/events/index.ts';
import { runMigrations } from '../../src/platform/migrations/index.ts';
import { tenantFence } from '../../src/platform/tenancy/index.ts';
import { createOrderStore } from '../../src/services/ordering/orderStore.ts';

const UNITS = Number(process.env.BENCH_UNITS ?? 16);
const BATCHES = Number(process.env.BENCH_BATCHES ?? 200);
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
const WARM_BATCHES = 5;
const DB = 'brigade_bench_unit_cost';

type Variant = 'production' | 'settings and fence merged' | 'append only' | 'store alone' | 'merged (prototype)';

/**
 * The merged prototype's set-up, in the scratch database only: a function that raises the store's
 * errors from plain SQL, policies that let a statement write (and read the heads of) the tenants listed
 * in `brigade.batch_tenants`, and the fence for a list of tenants (the same lock and placement check
 * per tenant as `platform.enter_tenant`).
 */
const MERGED_DDL = `
create function ordering.refuse_append(p_stream text, p_version bigint, p_expected bigint) returns boolean language plpgsql as $fn$
begin
  if p_expected is null then
    raise exception 'stream % was appended to by a newer transaction', p_stream using errcode = 'BRORD', detail = p_version::text;
  end if;
  raise exception 'stream % is at version %, not %', p_stream, p_version, p_expected using errcode = 'BRVER', detail = p_version::text;
end $fn$;
grant execute on function ordering.refuse_append(text, bigint, bigint) to brigade_ordering;
create policy events_batch on ordering.events for all to brigade_ordering
  using (tenant_id = any ((select string_to_array(current_setting('brigade.batch_tenants', true), ',')::uuid[])::uuid[]))
  with check (tenant_id = any ((select string_to_array(current_setting('brigade.batch_tenants', true), ',')::uuid[])::uuid[]));
create policy outbox_batch on ordering.outbox for insert to brigade_ordering
  with check (headers ->> 'tenant' = any ((select string_to_array(current_setting('brigade.batch_tenants', true), ','))::text[]));
create function platform.enter_tenants(p_tenants uuid[], p_believed text) returns void language plpgsql security definer
  set search_path = pg_catalog, pg_temp as $fn$
begin
  if not (p_tenants <@ string_to_array(current_setting('brigade.batch_tenants', true), ',')::uuid[]) then
    raise exception 'tenant_fence: a tenant is not of this transaction' using errcode = '42501';
  end if;
  perform pg_advisory_xact_lock_shared(hashtext('brigade.tenant_fence'), hashtext(t::text)) from unnest(p_tenants) t;
  if exists (select 1 from platform.tenant_placements where tenant_id = any (p_tenants)
              and coalesce(database_url, '') <> '' and database_url is distinct from p_believed) then
    raise exception 'a tenant lives in another database' using errcode = 'BRMOV';
  end if;
end $fn$;
grant execute on function platform.enter_tenants(uuid[], text) to brigade_ordering;`;

/** One event per unit: the append statement's values ($1 tenant … $8 metadata), unit by unit, as columns. */
const MERGED_APPEND = `with u as (
  select u.*, h.v, h.tx
    from unnest($1::uuid[], $2::text[], $3::bigint[], $4::uuid[], $5::text[], $6::integer[], $7::jsonb[], $8::jsonb[])
         with ordinality as u(tenant_id, stream_id, expected, message_id, type, schema_version, data, metadata, n)
    cross join lateral (select coalesce(max(x.stream_version), 0) as v, max(x.transaction_id) as tx
                          from (select ev.stream_version, ev.transaction_id from ordering.events ev
                                 where ev.tenant_id = u.tenant_id and ev.stream_id = u.stream_id
                                 order by ev.stream_version desc limit 1) x) h),
ok as (
  select u.* from u
   where case when u.expected is not null and u.v <> u.expected then ordering.refuse_append(u.stream_id, u.v, u.expected)
              when u.tx > pg_current_xact_id() then ordering.refuse_append(u.stream_id, u.v, null)
              else true end),
ob as (
  insert into ordering.outbox (message_id, subject, aggregate_key, headers, payload)
  select u.message_id, 'ordering.order.' || u.type, u.stream_id,
         jsonb_build_object('correlation', u.metadata ->> 'correlationId', 'causation', coalesce(u.metadata ->> 'causationId', ''),
                            'tenant', u.tenant_id::text,
                            'traceparent', case when jsonb_typeof(u.metadata -> 'extra' -> 'traceparent') = 'string'
                                                then u.metadata -> 'extra' ->> 'traceparent' else '' end),
         u.data
    from ok u order by u.n)
insert into ordering.events as ev (tenant_id, stream_id, stream_version, message_id, type, schema_version, data, metadata)
select u.tenant_id, u.stream_id, u.v + 1, u.message_id, u.type, u.schema_version, u.data, u.metadata from ok u order by u.n
returning ev.global_position, ev.transaction_id, ev.stream_version, ev.recorded_at`;

/** Drops, in turn, in the scratch database only: the outbox's parts whose cost is measured. */
const OUTBOX_PARTS: ReadonlyArray<readonly [string, string]> = [
  ['subject check (regular expression)', 'alter table ordering.outbox drop constraint outbox_subject_check'],
  ['headers check (jsonb_typeof)', 'alter table ordering.outbox drop constraint outbox_headers_check'],
  ['unique message id', 'alter table ordering.outbox drop constraint outbox_message_id_key'],
  ['wake-up trigger', 'drop trigger outbox_wake on ordering.outbox'],
  ['Row-Level Security', 'alter table ordering.outbox no force row level security; alter table ordering.outbox disable row level security'],
];

/** The statements `store.appendAndCommit` would send for one append (captured, not sent). */
async function appendStatements(store: EventStore, context: UnitOfWorkContext, streamId: string): Promise<Statement[]> {
  const captured = new Error('captured');
  let statements: Statement[] = [];
  await store
    .appendAndCommit(
      async (_context, s) => {
        statements = [...s];
        throw captured;
      },
      context,
      streamId,
      [{ type: 'OrderAccepted', data: { orderId: streamId, etaMinutes: 25 } }],
      'any',
    )
    .catch((error: unknown) => {
      if (error !== captured) throw error;
    });
  return statements;
}

async function main(): Promise<void> {
  const url = await freshDatabase(DB);
  const client = new pg.Client({ connectionString: url });
  try {
    console.log(`backend CPU per append unit: ${UNITS} units per batch, ${BATCHES - WARM_BATCHES} measured batches, ${REPEATS} repeats; migrating ${DB}…`);
    await runMigrations({ url, sets: migrationSets() });
    await client.connect();
    // Under load the relay is awake: producers read the flag and do not NOTIFY.
    await client.query('update ordering.outbox_state set sleeping = false');
    const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const runNanos = async () => Number((await readFile(`/proc/${pid}/schedstat`, 'utf8')).split(' ')[0]);

    const stores = { outbox: createOrderStore(), alone: createEventStore({ schema: 'ordering' }) };
    const tenantId = randomUUID();
    const fence = tenantFence(tenantId, '');
    const batchSettings = transactionSetup({ service: 'ordering', tenantId, actor: { kind: 'system', id: 'bench' } })[1]!;

    const unit = async (variant: Variant): Promise<Statement[]> => {
      const context = { service: 'ordering', tenantId, actor: { kind: 'customer' as const, id: randomUUID() } };
      const statements = await appendStatements(variant === 'store alone' ? stores.alone : stores.outbox, context, `order-${randomUUID()}`);
      const settings = transactionSetup(context)[1]!;
      if (variant === 'append only') return statements;
      if (variant === 'settings and fence merged') {
        return [{ name: 'brigade_bench_settings_fence', text: `${settings.text}, platform.enter_tenant($5::uuid, $6)`, values: [...settings.values!, tenantId, ''] }, ...statements];
      }
      return [settings, fence, ...statements];
    };

    /** The batch as one settings statement, one fence call and one append statement (one event per unit). */
    const mergedBatch = async (): Promise<Statement[]> => {
      const columns: unknown[][] = Array.from({ length: 8 }, () => []);
      for (let u = 0; u < UNITS; u++) {
        const tenant = randomUUID();
        const context = { service: 'ordering', tenantId: tenant, actor: { kind: 'customer' as const, id: randomUUID() } };
        const append = (await appendStatements(stores.outbox, context, `order-${randomUUID()}`))[0]!.values!;
        append.forEach((value, i) => columns[i]!.push(i < 3 ? value : (value as unknown[])[0]));
      }
      const tenants = columns[0] as string[];
      const settings = transactionSetup({ service: 'ordering', actor: { kind: 'system', id: 'bench' } })[1]!;
      return [
        { name: 'brigade_bench_batch_settings', text: `${settings.text}, set_config('brigade.batch_tenants', $5, true)`, values: [...settings.values!, tenants.join(',')], resultless: true },
        { name: 'brigade_bench_enter_tenants', text: 'select platform.enter_tenants($1::uuid[], $2)', values: [tenants, ''], resultless: true },
        { name: 'brigade_bench_merged_append', text: MERGED_APPEND, values: columns },
      ];
    };

    /** Backend µs per unit over BATCHES batches of `variant` (the first few only warm up). */
    const measure = async (variant: Variant): Promise<number> => {
      const batches: Statement[][] = [];
      for (let b = 0; b < BATCHES; b++) {
        if (variant === 'merged (prototype)') {
          batches.push(await mergedBatch());
          continue;
        }
        const statements = variant === 'append only' ? [batchSettings] : [];
        for (let u = 0; u < UNITS; u++) statements.push(...(await unit(variant)));
        batches.push(statements);
      }
      for (const batch of batches.slice(0, WARM_BATCHES)) await sendBatch(client, batch);
      const t0 = await runNanos();
      for (const batch of batches.slice(WARM_BATCHES)) {
        const results = await sendBatch(client, batch);
        // The prototype must have appended every unit's event (its outbox rows ride in the same statement).
        if (variant === 'merged (prototype)' && results[2]!.rows.length !== UNITS) throw new Error(`merged statement appended ${results[2]!.rows.length} of ${UNITS} events`);
      }
      return ((await runNanos()) - t0) / 1000 / ((BATCHES - WARM_BATCHES) * UNITS);
    };
    const line = (name: string, values: number[]) => console.log(`${name.padEnd(42)} ${values.map((v) => v.toFixed(1).padStart(6)).join(' ')} µs`);

    await client.query(MERGED_DDL);
    const variants: Variant[] = ['production', 'settings and fence merged', 'append only', 'store alone', 'merged (prototype)'];
    const results = new Map<Variant, number[]>(variants.map((v) => [v, []]));
    for (let r = 0; r < REPEATS; r++) for (const v of variants) results.get(v)!.push(await measure(v));
    for (const [v, values] of results) line(v, values);

    console.log('\nthe production unit, each line with one more of the outbox\'s parts dropped (scratch database):');
    for (const [part, ddl] of OUTBOX_PARTS) {
      await client.query(ddl);
      const values: number[] = [];
      for (let r = 0; r < REPEATS; r++) values.push(await measure('production'));
      line(`  − ${part}`, values);
    }
  } finally {
    await client.end().catch(() => undefined);
    await dropDatabase(DB);
  }
}

await main();
