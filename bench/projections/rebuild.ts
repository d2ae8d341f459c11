/**
 * Projection rebuild benchmark: how many events/s `rebuildProjection` (the code path of
 * `brigade projections rebuild`) replays into a shadow table and swaps in, for the live-board view,
 * and the variants behind its design, all on the same events and PostgreSQL in one run:
 *
 * - reads: `readAll` pages as the planner likes them, `readAll` with sorts off, `readAllForFold`
 *   pages, and `streamAllForFold` (the rebuild's read);
 * - writes of the rebuilt rows: one `jsonb_to_recordset` statement, statements of 5,000, COPY;
 * - rebuilds: in memory (`replay`, the CLI's path) with the CLI's page size (three runs) and pages of
 *   5,000, and page by page through `apply` (the path of projections without `replay`, close to the
 *   first version of the rebuild);
 * - a per-event projector (one upsert per event, the usual hand-written shape).
 *
 *   DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node --import tsx bench/projections/rebuild.ts [orders]
 *
 * Creates and drops its own database. Target: ≥ 50,000 events/s (issue 5). Prints Node's CPU time and,
 * when PostgreSQL runs on this machine and /proc is readable, the server backends' CPU time: on a
 * shared 2-CPU machine the CPU a variant costs is steadier than its wall time.
 */
import os from 'node:os';
import pg from 'pg';
import { migrationSets } from '../../src/composition/services.ts';
import { clientTx, unitOfWork, type Tx } from '../../src/platform/db/index.ts';
import { readAllForFold, START, streamAllForFold, type GlobalPosition } from '../../src/platform/events/index.ts';
import { DEFAULT_REBUILD_BATCH, rebuildProjection, type Projection } from '../../src/platform/projections/index.ts';
import { copyRows } from '../../src/platform/projections/copyRows.ts';
import { enterServiceRole } from '../../src/platform/projections/enterServiceRole.ts';
import { inTransaction } from '../../src/platform/projections/inTransaction.ts';
import { rowColumns } from '../../src/platform/projections/rowColumns.ts';
import { upsertRows } from '../../src/platform/projections/upsertRows.ts';
import { runMigrations } from '../../src/platform/migrations/index.ts';
import { ORDER_VIEWS } from '../../src/services/ordering/views/index.ts';
import { backendCpuSeconds } from '../cpu.ts';
import { ADMIN_URL, dropDatabase, freshDatabase, waitUntilReadable } from '../database.ts';

const orders = Number(process.argv[2] ?? 40_000);
const EVENTS_PER_ORDER = 6;
const PER_EVENT_EVENTS = Number(process.env.PER_EVENT_EVENTS ?? 10_000);
const name = `brigade_bench_proj_${process.pid}`;
const board = ORDER_VIEWS.board;
const system = { service: 'ordering', actor: { kind: 'system' as const, id: 'bench' } };
const noSort = { setupStatements: [{ text: `select set_config('enable_sort', 'off', true)` }] };

/** Wall time, Node CPU time and server CPU time (null when unreadable) of `fn`. */
async function measure<T>(admin: pg.Client, fn: () => Promise<T>): Promise<{ value: T; seconds: number; nodeCpu: number; serverCpu: number | null }> {
  const server0 = await backendCpuSeconds(admin, name);
  const cpu0 = process.cpuUsage();
  const started = performance.now();
  const value = await fn();
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const server1 = await backendCpuSeconds(admin, name);
  return { value, seconds, nodeCpu: (cpu.user + cpu.system) / 1e6, serverCpu: server0 === null || server1 === null ? null : server1 - server0 };
}

const cpuText = (m: { nodeCpu: number; serverCpu: number | null }) => `node ${m.nodeCpu.toFixed(2)} s, server ${m.serverCpu === null ? 'n/a' : `${m.serverCpu.toFixed(2)} s`} CPU`;
const rate = (n: number, seconds: number) => Math.round(n / seconds).toLocaleString('en-US');

async function main() {
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  const url = await freshDatabase(name);
  const pool = new pg.Pool({ connectionString: url, max: 4, idleTimeoutMillis: 0 });
  // pool.end() does not wait for the sockets to close, so the forced drop below can end a session
  // that is still saying goodbye: that error is expected and harmless.
  pool.on('error', () => undefined);
  try {
    await runMigrations({ url, sets: migrationSets(), onProgress: () => undefined });
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
    console.log(`load average before the variants: ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);

    // Reads: the whole log in pages of 20,000, each page its own read-only transaction as the rebuild reads.
    console.log('reads, pages of 20,000:');
    const readVariants: Array<[string, (tx: Tx, after: GlobalPosition) => Promise<{ events: readonly unknown[]; checkpoint: GlobalPosition }>, boolean]> = [
      ['readAll, planner as is', (tx, after) => board.store.readAll(tx, { after, limit: 20_000 }), false],
      ['readAll, sorts off', (tx, after) => board.store.readAll(tx, { after, limit: 20_000 }), true],
      ['readAllForFold, sorts off', (tx, after) => readAllForFold(board.store, tx, { after, limit: 20_000 }), true],
    ];
    for (const [label, read, sortsOff] of readVariants) {
      await waitUntilReadable(pool);
      const m = await measure(admin, async () => {
        let after = START;
        let n = 0;
        for (;;) {
          const page = await unitOfWork(pool, { ...system, readOnly: true }, (tx) => read(tx, after), sortsOff ? noSort : {});
          n += page.events.length;
          after = page.checkpoint;
          if (page.events.length < 20_000) return n;
        }
      });
      console.log(`  ${label.padEnd(28)} ${rate(m.value, m.seconds).padStart(8)} events/s  (${m.seconds.toFixed(2)} s; ${cpuText(m)})`);
    }
    // The rebuild's way: one read-only transaction, statements of 20,000 streamed as the rows arrive.
    await waitUntilReadable(pool);
    const reader = await pool.connect();
    try {
      const m = await measure(admin, () =>
        inTransaction(reader, system, async (tx) => {
          await tx.query('set transaction read only');
          await enterServiceRole(tx, system);
          let n = 0;
          for (let after = START; ; ) {
            const streamed = await streamAllForFold(board.store, reader, { after, limit: 20_000 }, () => true);
            if (streamed.stopped) throw new Error('the stream stopped: a (type, version) the earlier reads did not learn');
            n += streamed.events;
            after = streamed.checkpoint;
            if (streamed.rows < 20_000) return n;
          }
        }),
      );
      console.log(`  ${'streamAllForFold, sorts off'.padEnd(28)} ${rate(m.value, m.seconds).padStart(8)} events/s  (${m.seconds.toFixed(2)} s; ${cpuText(m)})`);
    } finally {
      reader.release();
    }

    // Writes: the 40,000 rebuilt board rows into an empty copy of the view, each variant in one transaction as the owner.
    await waitUntilReadable(pool);
    const folded = await unitOfWork(pool, { ...system, readOnly: true }, async (tx) => {
      const replay = board.replay!();
      for (let after = START; ; ) {
        const page = await readAllForFold(board.store, tx, { after, limit: 20_000 });
        replay.fold(page.events);
        after = page.checkpoint;
        if (page.events.length < 20_000) return replay.take().fresh;
      }
    }, noSort);
    const columns = rowColumns(
      Object.fromEntries(
        (
          await pool.query<{ name: string; type: string }>(
            `select attname as name, format_type(atttypid, atttypmod) as type from pg_attribute
              where attrelid = 'ordering.board_view'::regclass and attnum > 0 and not attisdropped order by attnum`,
          )
        ).rows.map((c) => [c.name, c.type]),
      ),
      ['tenant_id', 'order_id'],
    );
    console.log(`\nwrites of ${folded.length.toLocaleString('en-US')} board rows (one transaction each):`);
    const writeVariants: Array<[string, (client: pg.PoolClient, tx: Tx) => Promise<void>]> = [
      ['jsonb_to_recordset, 1 statement', (client) => client.query(insertFromJsonb(columns), [JSON.stringify(folded)]).then(() => undefined)],
      ['jsonb_to_recordset, 5,000 a statement', (_client, tx) => upsertRows(tx, 'ordering.bench_write', columns, folded).then(() => undefined)],
      ['COPY … FROM STDIN', (client) => copyRows(client, 'ordering.bench_write', columns, folded).then(() => undefined)],
    ];
    for (const [label, write] of writeVariants) {
      await pool.query('drop table if exists ordering.bench_write');
      await pool.query('create table ordering.bench_write (like ordering.board_view including all)');
      await pool.query('alter table ordering.bench_write disable row level security');
      const client = await pool.connect();
      try {
        const tx: Tx = clientTx(client, system);
        const m = await measure(admin, async () => {
          await client.query('begin');
          await write(client, tx);
          await client.query('commit');
        });
        console.log(`  ${label.padEnd(38)} ${rate(folded.length, m.seconds).padStart(8)} rows/s  (${m.seconds.toFixed(2)} s; ${cpuText(m)})`);
      } finally {
        client.release();
      }
    }
    await pool.query('drop table ordering.bench_write');

    // Rebuilds, as the CLI runs them.
    console.log('\nrebuilds (blue/green, swapped in):');
    const results: Array<{ label: string; eps: number }> = [];
    const throughApply: Projection = { ...board, replay: undefined };
    const cliDefault = `in memory (replay), pages of ${DEFAULT_REBUILD_BATCH.toLocaleString('en-US')}`;
    // The other page size the default was chosen against (decision 0033), in the same run.
    const otherBatch = DEFAULT_REBUILD_BATCH === 5000 ? 20_000 : 5000;
    const rebuilds: Array<[string, Projection, number]> = [
      [cliDefault, board, DEFAULT_REBUILD_BATCH],
      [`in memory (replay), pages of ${otherBatch.toLocaleString('en-US')}`, board, otherBatch],
      [cliDefault, board, DEFAULT_REBUILD_BATCH],
      ['through apply, pages of 20,000', throughApply, 20_000],
      [cliDefault, board, DEFAULT_REBUILD_BATCH],
    ];
    for (const [label, projection, batchSize] of rebuilds) {
      await waitUntilReadable(pool);
      const m = await measure(admin, () => rebuildProjection(pool, projection, { batchSize }));
      const eps = m.value.events / m.value.seconds;
      results.push({ label, eps });
      console.log(
        `  ${label.padEnd(38)} ${rate(m.value.events, m.value.seconds).padStart(8)} events/s  (${m.value.events.toLocaleString('en-US')} events → ${m.value.rows.toLocaleString('en-US')} rows in ${m.value.seconds.toFixed(2)} s; ${cpuText(m)}; load ${os.loadavg()[0]!.toFixed(2)})`,
      );
    }

    // Peer: the per-event projector most code bases start with: read a page, one upsert per event.
    await pool.query('create table ordering.bench_naive (like ordering.board_view including all)');
    await pool.query('alter table ordering.bench_naive disable row level security');
    await waitUntilReadable(pool);
    const started = performance.now();
    let after: GlobalPosition | undefined;
    let naive = 0;
    while (naive < Math.min(events, PER_EVENT_EVENTS)) {
      const n = await unitOfWork(pool, system, async (tx) => {
        const page = await board.store.readAll(tx, { after, limit: 1000 });
        for (const e of page.events) await board.apply(tx, [e], 'ordering.bench_naive');
        after = page.checkpoint;
        return page.events.length;
      });
      if (n === 0) break;
      naive += n;
    }
    const naiveEps = naive / ((performance.now() - started) / 1000);
    console.log(`  per-event projector (first ${naive.toLocaleString('en-US')} events)  ${rate(naive, (performance.now() - started) / 1000).padStart(8)} events/s`);
    const cli = results.filter((r) => r.label === cliDefault);
    const [low, high] = [Math.min(...cli.map((r) => r.eps)), Math.max(...cli.map((r) => r.eps))];
    console.log(
      `\nCLI path (${cliDefault}, ${cli.length} runs): ${Math.round(low).toLocaleString('en-US')}–${Math.round(high).toLocaleString('en-US')} events/s = ` +
        `${(low / 50_000).toFixed(2)}–${(high / 50_000).toFixed(2)}× the 50,000 events/s target; ${(low / naiveEps).toFixed(0)}–${(high / naiveEps).toFixed(0)}× the per-event projector`,
    );
    console.log(`machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}, ${(await pool.query('show server_version')).rows[0].server_version}, load ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  } finally {
    await pool.end();
    await admin.end();
    await dropDatabase(name);
  }
}

/** One INSERT of every row from a single jsonb array (the first rebuild's write, whole). */
function insertFromJsonb(columns: ReturnType<typeof rowColumns>): string {
  return `insert into ordering.bench_write (${columns.list}) select ${columns.list} from jsonb_to_recordset($1::jsonb) as r(${columns.record})`;
}

await main();
