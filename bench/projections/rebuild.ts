/**
 * Projection rebuild benchmark: how many events/s `rebuildProjection` replays into a shadow table and
 * swaps in (the live-board view, set-based fold), against a per-event projector (one upsert per
 * event, the usual hand-written shape) on the same events and PostgreSQL, in one run.
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/projections/rebuild.ts [orders]
 *
 * Creates and drops its own database. Target: ≥ 50,000 events/s (issue 5).
 */
import os from 'node:os';
import pg from 'pg';
import { migrationSets } from '../../src/composition/services.ts';
import { unitOfWork } from '../../src/platform/db/index.ts';
import type { GlobalPosition } from '../../src/platform/events/index.ts';
import { rebuildProjection } from '../../src/platform/projections/index.ts';
import { runMigrations } from '../../src/platform/migrations/index.ts';
import { ORDER_VIEWS } from '../../src/services/ordering/views/index.ts';

const adminUrl = process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const orders = Number(process.argv[2] ?? 40_000);
const EVENTS_PER_ORDER = 6;
const name = `brigade_bench_proj_${process.pid}`;

async function main() {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const pool = new pg.Pool({ connectionString: url.toString(), max: 4 });
  try {
    await runMigrations({ url: url.toString(), sets: migrationSets(), onProgress: () => undefined });
    const seeded = performance.now();
    // Seed as the owner, 2,000 orders (12,000 events) per transaction, interleaved like a real log:
    // every order's events are in version order; orders of 20 restaurants.
    for (let from = 0; from < orders; from += 2000) {
      const to = Math.min(orders, from + 2000);
      await pool.query(
        `insert into ordering.events (tenant_id, stream_id, stream_version, message_id, type, data, metadata)
         select t.tenant_id, 'order-' || o.id, v.version, gen_random_uuid(), v.type,
                case v.type
                  when 'OrderPlaced' then jsonb_build_object('orderId', o.id, 'restaurantId', t.tenant_id, 'customerId', gen_random_uuid(), 'currency', 'EUR', 'total', 2500,
                       'deliveryAddress', '1 Main St', 'placedAt', '2025-01-01T12:00:00Z',
                       'lines', jsonb_build_array(jsonb_build_object('lineId', o.line1, 'itemId', gen_random_uuid(), 'itemVersion', 1, 'name', 'Pizza', 'unitPrice', 1000, 'quantity', 2, 'modifiers', '[]'::jsonb, 'lineTotal', 2000),
                                                  jsonb_build_object('lineId', o.line2, 'itemId', gen_random_uuid(), 'itemVersion', 1, 'name', 'Cola', 'unitPrice', 500, 'quantity', 1, 'modifiers', '[]'::jsonb, 'lineTotal', 500)))
                  when 'ItemPrepared' then jsonb_build_object('orderId', o.id, 'lineId', o.line1)
                  when 'CourierAssigned' then jsonb_build_object('orderId', o.id, 'courierId', gen_random_uuid())
                  else jsonb_build_object('orderId', o.id, 'etaMinutes', 20) end,
                jsonb_build_object('correlationId', gen_random_uuid(), 'causationId', null, 'actor', null, 'source', 'ordering', 'occurredAt', '2025-01-01T12:00:00Z')
           from (select g, gen_random_uuid() as id, gen_random_uuid() as line1, gen_random_uuid() as line2 from generate_series($1::int, $2::int - 1) g) o
           cross join lateral (select ('00000000-0000-4000-8000-' || lpad((o.g % 20)::text, 12, '0'))::uuid as tenant_id) t
           cross join (values (1, 'OrderPlaced'), (2, 'OrderAccepted'), (3, 'ItemPrepared'), (4, 'OrderReady'), (5, 'CourierAssigned'), (6, 'OrderDelivered')) v(version, type)
          order by v.version, o.g`,
        [from, to],
      );
    }
    const events = orders * EVENTS_PER_ORDER;
    console.log(`seeded ${events.toLocaleString('en-US')} events (${orders.toLocaleString('en-US')} orders) in ${((performance.now() - seeded) / 1000).toFixed(1)} s`);
    await pool.query('vacuum analyze ordering.events');

    const results: Array<{ label: string; eps: number }> = [];
    for (const batchSize of [1000, 5000, 20000]) {
      const r = await rebuildProjection(pool, ORDER_VIEWS.board, { batchSize });
      const eps = r.events / r.seconds;
      results.push({ label: `blue/green rebuild, batch ${batchSize}`, eps });
      console.log(`rebuild batch=${String(batchSize).padStart(5)}: ${r.events.toLocaleString('en-US')} events → ${r.rows.toLocaleString('en-US')} rows in ${r.seconds.toFixed(2)} s = ${Math.round(eps).toLocaleString('en-US')} events/s`);
    }

    // Peer: the per-event projector most code bases start with: read a page, one upsert per event.
    await pool.query('create table ordering.bench_naive (like ordering.board_view including all)');
    await pool.query('alter table ordering.bench_naive disable row level security');
    const board = ORDER_VIEWS.board;
    const started = performance.now();
    let after: GlobalPosition | undefined;
    let naive = 0;
    const limit = Math.min(events, 30_000);
    while (naive < limit) {
      const n = await unitOfWork(pool, { service: 'ordering', actor: { kind: 'system', id: 'bench' } }, async (tx) => {
        const page = await board.store.readAll(tx, { after, limit: 1000 });
        for (const e of page.events) await board.apply(tx, [e], 'ordering.bench_naive');
        after = page.checkpoint;
        return page.events.length;
      });
      if (n === 0) break;
      naive += n;
    }
    const naiveEps = naive / ((performance.now() - started) / 1000);
    console.log(`per-event projector (first ${naive.toLocaleString('en-US')} events): ${Math.round(naiveEps).toLocaleString('en-US')} events/s`);
    const best = results.reduce((a, b) => (b.eps > a.eps ? b : a));
    console.log(`\nbest: ${best.label}: ${Math.round(best.eps).toLocaleString('en-US')} events/s = ${(best.eps / naiveEps).toFixed(1)}× the per-event projector; ${(best.eps / 50_000).toFixed(2)}× the 50,000 events/s target`);
    console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${(await pool.query('show server_version')).rows[0].server_version}`);
  } finally {
    await pool.end();
    await admin.query(`drop database ${name} with (force)`);
    await admin.end();
  }
}

await main();
