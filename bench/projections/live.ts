/**
 * Live projection benchmark: what the three order-view projectors cost per event while they follow
 * the head of the log, as `brigade start` runs them (`applyBatch` in a unit of work per batch, batches
 * of 500, the shared tail of decision 0064, fold events since decision 0070), in CPU per event and
 * view: Node's and the database backends'. On a shared 2-CPU machine CPU is steadier than wall time,
 * and CPU is what the projectors take from the writers in `bench/event-store`
 * (`appendAndCommit + projectors`).
 *
 * Workload: chunks of orders arrive, each order's four events (OrderPlaced, OrderAccepted,
 * CourierAssigned, OrderPickedUp) interleaved as 16 writers append them; after each chunk the three
 * projectors catch up (a batch of 500, then the rest), as after an idle step of the live runner.
 * Variants, alternated in every round:
 *   - `views`: the production projections;
 *   - `read + checkpoint only`: the same batches with `apply` doing nothing (the read of the log, the
 *     checkpoint, NOTIFY and commit), so that the view work is the difference.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/projections/live.ts
 *
 * The views start with BENCH_VIEW_ROWS rows each (default 100,000: earlier orders), since a view's
 * statements must cost the same whatever its size.
 *
 * Environment: BENCH_ROUNDS (default 3), BENCH_CHUNKS chunks per variant and round (default 20),
 * BENCH_CHUNK_ORDERS orders per chunk (default 190, about 760 events: 250 ms of the event-store
 * benchmark's appends), BENCH_VIEW_ROWS. Creates its own database and drops it, unless
 * BENCH_KEEP_DATABASE is set (to look at its plans afterwards).
 */
import os from 'node:os';
import pg from 'pg';
import { migrationSets } from '../../src/composition/services.ts';
import { unitOfWork } from '../../src/platform/db/index.ts';
import { applyBatch, ensureCheckpoint, type Projection } from '../../src/platform/projections/index.ts';
import { runMigrations } from '../../src/platform/migrations/index.ts';
import { ORDER_VIEWS } from '../../src/services/ordering/views/index.ts';
import { backendCpuSeconds } from '../cpu.ts';
import { ADMIN_URL, dropDatabase, freshDatabase, waitUntilReadable } from '../database.ts';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CHUNKS = Number(process.env.BENCH_CHUNKS ?? 20);
const CHUNK_ORDERS = Number(process.env.BENCH_CHUNK_ORDERS ?? 190);
const VIEW_ROWS = Number(process.env.BENCH_VIEW_ROWS ?? 100_000);
const BATCH = 500;
const name = `brigade_bench_live_${process.pid}`;
const system = { service: 'ordering', actor: { kind: 'system' as const, id: 'bench' } };

const VARIANTS: ReadonlyArray<readonly [string, readonly Projection[]]> = [
  ['views', ORDER_VIEWS.all],
  ['read + checkpoint only', ORDER_VIEWS.all.map((p): Projection => ({ ...p, apply: () => Promise.resolve([]) }))],
];

/** Appends one chunk of orders as the owner, in one transaction, interleaved as 16 writers append. */
async function seedChunk(pool: pg.Pool, chunk: number): Promise<number> {
  const { rowCount } = await pool.query(
    `insert into ordering.events (tenant_id, stream_id, stream_version, message_id, type, data, metadata)
     select t.tenant_id, 'order-' || o.id, v.version, gen_random_uuid(), v.type,
            case v.type
              when 'OrderPlaced' then jsonb_build_object('orderId', o.id, 'restaurantId', t.tenant_id, 'customerId', o.customer, 'currency', 'EUR', 'total', 2200,
                   'deliveryAddress', 'Main St 1, Ghent', 'placedAt', '2026-12-03T12:00:00Z',
                   'lines', jsonb_build_array(jsonb_build_object('lineId', gen_random_uuid(), 'itemId', gen_random_uuid(), 'itemVersion', 3, 'name', 'Margherita', 'unitPrice', 950, 'quantity', 2, 'modifiers', '[]'::jsonb, 'lineTotal', 1900),
                                              jsonb_build_object('lineId', gen_random_uuid(), 'itemId', gen_random_uuid(), 'itemVersion', 1, 'name', 'Cola', 'unitPrice', 300, 'quantity', 1, 'modifiers', '[]'::jsonb, 'lineTotal', 300)))
              when 'OrderAccepted' then jsonb_build_object('orderId', o.id, 'etaMinutes', 25)
              else jsonb_build_object('orderId', o.id, 'courierId', o.courier) end,
            jsonb_build_object('correlationId', gen_random_uuid(), 'causationId', null, 'actor', null, 'source', 'ordering', 'occurredAt', '2026-12-03T12:00:00Z')
       from (select g, gen_random_uuid() as id, gen_random_uuid() as customer, ('00000000-0000-4000-9000-' || lpad((g % 50)::text, 12, '0'))::uuid as courier
               from generate_series(0, $1::int - 1) g) o
       cross join lateral (select ('00000000-0000-4000-8000-' || lpad((($2::int * $1::int + o.g) % 20)::text, 12, '0'))::uuid as tenant_id) t
       cross join (values (1, 'OrderPlaced'), (2, 'OrderAccepted'), (3, 'CourierAssigned'), (4, 'OrderPickedUp')) v(version, type)
      order by (o.g / 16) * 4 + v.version, o.g % 16`,
    [CHUNK_ORDERS, chunk],
  );
  return rowCount ?? 0;
}

/** Fills each view with `VIEW_ROWS` rows of earlier (delivered) orders, as the owner. */
async function seedViews(pool: pg.Pool): Promise<void> {
  const orders = `from (select g, gen_random_uuid() as id, ('00000000-0000-4000-8000-' || lpad((g % 20)::text, 12, '0'))::uuid as tenant_id from generate_series(1, $1::int) g) o`;
  await pool.query(
    `insert into ordering.board_view (tenant_id, order_id, status, lines, total, currency, placed_at, updated_at, version, last_transaction_id, last_position)
     select tenant_id, id, 'delivered', '[{"lineId": "x", "name": "Margherita", "quantity": 2, "prepared": true}]', 2200, 'EUR', now(), now(), 6, '1'::xid8, g ${orders}`,
    [VIEW_ROWS],
  );
  await pool.query(
    `insert into ordering.customer_orders_view (tenant_id, order_id, customer_id, restaurant_id, status, total, currency, placed_at, updated_at, version, last_transaction_id, last_position)
     select tenant_id, id, gen_random_uuid(), tenant_id, 'delivered', 2200, 'EUR', now(), now(), 6, '1'::xid8, g ${orders}`,
    [VIEW_ROWS],
  );
  await pool.query(
    `insert into ordering.courier_tasks_view (tenant_id, order_id, courier_id, status, restaurant_id, delivery_address, assigned_at, updated_at, version, last_transaction_id, last_position)
     select tenant_id, id, gen_random_uuid(), 'delivered', tenant_id, 'Main St 1', now(), now(), 6, '1'::xid8, g ${orders}`,
    [VIEW_ROWS],
  );
  await pool.query('vacuum analyze ordering.board_view, ordering.customer_orders_view, ordering.courier_tasks_view');
}

interface Totals {
  events: number;
  seconds: number;
  node: number;
  server: number;
}

/** Seeds `CHUNKS` chunks; after each, the projections catch up batch by batch (measured). */
async function runVariant(pool: pg.Pool, admin: pg.Client, projections: readonly Projection[], round: number, variant: number): Promise<Totals> {
  const totals: Totals = { events: 0, seconds: 0, node: 0, server: 0 };
  for (let c = 0; c < CHUNKS; c++) {
    totals.events += await seedChunk(pool, (round * VARIANTS.length + variant) * CHUNKS + c);
    await waitUntilReadable(pool);
    const server0 = await backendCpuSeconds(admin, name);
    const cpu0 = process.cpuUsage();
    const started = performance.now();
    // Round-robin, as three runners woken together interleave: each projection's batch, until all are at the head.
    const pending = new Set(projections);
    while (pending.size > 0) {
      for (const projection of [...pending]) {
        const result = await unitOfWork(pool, system, (tx) => applyBatch(tx, projection, BATCH));
        if (result.read < BATCH) pending.delete(projection);
      }
    }
    totals.seconds += (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpu0);
    totals.node += (cpu.user + cpu.system) / 1e6;
    const server1 = await backendCpuSeconds(admin, name);
    if (server0 === null || server1 === null) throw new Error('the backends\' CPU is unreadable: run PostgreSQL on this machine, with /proc');
    totals.server += server1 - server0;
  }
  return totals;
}

async function main() {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const url = await freshDatabase(name);
  const pool = new pg.Pool({ connectionString: url, max: 4, idleTimeoutMillis: 0 });
  pool.on('error', () => undefined);
  try {
    await runMigrations({ url, sets: migrationSets(), onProgress: () => undefined });
    for (const projection of ORDER_VIEWS.all) await unitOfWork(pool, system, (tx) => ensureCheckpoint(tx, projection));
    await seedViews(pool);
    // Warm-up: one chunk through the production projections, not recorded.
    await seedChunk(pool, 1_000_000);
    await waitUntilReadable(pool);
    for (const projection of ORDER_VIEWS.all) while ((await unitOfWork(pool, system, (tx) => applyBatch(tx, projection, BATCH))).read === BATCH);
    const sums = VARIANTS.map(() => ({ events: 0, seconds: 0, node: 0, server: 0 }));
    const us = (seconds: number, per: number) => ((seconds / per) * 1e6).toFixed(1);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [v, [label, projections]] of VARIANTS.entries()) {
        const t = await runVariant(pool, admin, projections, round, v);
        for (const key of ['events', 'seconds', 'node', 'server'] as const) sums[v]![key] += t[key];
        const per = t.events * projections.length;
        console.log(`round ${round + 1} ${label.padEnd(24)} ${t.events.toLocaleString('en-US')} events × ${projections.length} views: node ${us(t.node, per)} µs, server ${us(t.server, per)} µs per event and view; ${Math.round(t.events / t.seconds).toLocaleString('en-US')} events/s (load ${os.loadavg()[0]!.toFixed(2)})`);
      }
    }
    console.log('\nall rounds, CPU per event and view (node + server):');
    for (const [v, [label, projections]] of VARIANTS.entries()) {
      const s = sums[v]!;
      const per = s.events * projections.length;
      console.log(`  ${label.padEnd(24)} ${us(s.node, per)} + ${us(s.server, per)} µs; per event, all ${projections.length} views: ${us(s.node + s.server, s.events)} µs`);
    }
    console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await pool.end();
    await admin.end();
    if (process.env.BENCH_KEEP_DATABASE === undefined) await dropDatabase(name);
    else console.log(`kept database ${name}`);
  }
}

await main();
