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
 *   unmerged                  the unit as above (a batch whose units cannot merge)
 *   settings and fence merged the settings and the fence in one statement (an alternative)
 *   append only               settings once per batch, no fence (what the settings and fence cost)
 *   store alone               the event store without the outbox row
 *   merged                    every unit of the batch, each with its own tenant, as the group committer
 *                             merges them (docs/decisions/0063): one batch-settings statement, one
 *                             platform.enter_tenants fence and ONE append statement (head reads, version
 *                             checks, events and outbox rows of all the units).
 * Then, in a scratch database, the outbox's parts are dropped one at a time (checks, the unique message
 * id, the wake-up trigger, Row-Level Security) and the unmerged unit measured after each: what each
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
import { mergeStatements, sendBatch, type Statement, type UnitOfWorkContext } from '../../src/platform/db/index.ts';
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

type Variant = 'unmerged' | 'settings and fence merged' | 'append only' | 'store alone' | 'merged';

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

    // The writers act as staff: a customer or a courier appends only to the streams of orders the order
    // index names them in (ordering migration 0041, merged or not), and these orders are in none.
    const unit = async (variant: Variant): Promise<Statement[]> => {
      const context = { service: 'ordering', tenantId, actor: { kind: 'staff' as const, id: randomUUID() } };
      const statements = await appendStatements(variant === 'store alone' ? stores.alone : stores.outbox, context, `order-${randomUUID()}`);
      const settings = transactionSetup(context)[1]!;
      if (variant === 'append only') return statements;
      if (variant === 'settings and fence merged') {
        return [{ name: 'brigade_bench_settings_fence', text: `${settings.text}, platform.enter_tenant($5::uuid, $6)`, values: [...settings.values!, tenantId, ''] }, ...statements];
      }
      return [settings, fence, ...statements];
    };

    /** The batch as the group committer merges it: every unit of its own tenant, one event each. */
    const mergedBatch = async (): Promise<Statement[]> => {
      const units: Statement[][] = [];
      for (let u = 0; u < UNITS; u++) {
        const tenant = randomUUID();
        const context = { service: 'ordering', tenantId: tenant, actor: { kind: 'staff' as const, id: randomUUID() } };
        units.push([transactionSetup(context)[1]!, tenantFence(tenant, ''), ...(await appendStatements(stores.outbox, context, `order-${randomUUID()}`))]);
      }
      return mergeStatements(units);
    };

    /** Backend µs per unit over BATCHES batches of `variant` (the first few only warm up). */
    const measure = async (variant: Variant): Promise<number> => {
      const batches: Statement[][] = [];
      for (let b = 0; b < BATCHES; b++) {
        if (variant === 'merged') {
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
        // The merged statement must have appended every unit's event (its outbox rows ride in the same statement).
        if (variant === 'merged' && results[2]!.rows.length !== UNITS) throw new Error(`merged statement appended ${results[2]!.rows.length} of ${UNITS} events`);
      }
      return ((await runNanos()) - t0) / 1000 / ((BATCHES - WARM_BATCHES) * UNITS);
    };
    const line = (name: string, values: number[]) => console.log(`${name.padEnd(42)} ${values.map((v) => v.toFixed(1).padStart(6)).join(' ')} µs`);

    const variants: Variant[] = ['unmerged', 'settings and fence merged', 'append only', 'store alone', 'merged'];
    const results = new Map<Variant, number[]>(variants.map((v) => [v, []]));
    for (let r = 0; r < REPEATS; r++) for (const v of variants) results.get(v)!.push(await measure(v));
    for (const [v, values] of results) line(v, values);

    console.log('\nthe unmerged unit, each line with one more of the outbox\'s parts dropped (scratch database):');
    for (const [part, ddl] of OUTBOX_PARTS) {
      await client.query(ddl);
      const values: number[] = [];
      for (let r = 0; r < REPEATS; r++) values.push(await measure('unmerged'));
      line(`  − ${part}`, values);
    }
  } finally {
    await client.end().catch(() => undefined);
    await dropDatabase(DB);
  }
}

await main();
