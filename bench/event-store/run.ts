/**
 * Event-store benchmark: Brigade's event store vs Emmett's PostgreSQL event store vs `pgbench -N`,
 * in one run on the same PostgreSQL.
 *
 * Workload ("order lifecycle"): each of N concurrent writers (default 16) creates orders; an order is
 * 4 appends (OrderPlaced, OrderAccepted, CourierAssigned, OrderPickedUp), each its own transaction and
 * each with its expected version checked (0, 1, 2, 3). Brigade's appends carry what the product puts
 * around an append: role brigade_ordering, tenant and actor settings, the tenant fence, the migrated
 * schema (`ordering.events` with RLS, metadata and the xid8 column) and an outbox row per event, in the
 * modes of brigadeSystem; appends that wait for a batch in flight are merged into one statement
 * (decision 0063). They are the event store's appends, not the app's commands: four plain appends the
 * group committer can merge, where the ordering service's commands read the stream first and place an
 * order in an interactive unit of work with its idempotency key and order index. The `order commands`
 * mode runs those commands, for reference. Emmett: getPostgreSQLEventStore(url)
 * .appendToStream(stream, [event], { expectedStreamVersion }) on a pool of the same size. pgbench:
 * `pgbench -N -c N -j 2 -T S` on a scale-N pgbench database (5 statements per transaction).
 * The systems run in turns, the order rotated by one each round (bench/inTurns.ts).
 * Then a read rate, for reference: readAll over every Brigade event in pages of 5,000, folded per
 * stream into a Map (events/s). It is not issue 5's rebuild goal, which bench/projections/rebuild.ts
 * judges (the blue/green rebuild into a new table).
 * For the modes with projectors it also prints the most events any projector had left to apply when
 * the writers stopped, so a setting that lets them fall behind cannot pass for a faster append.
 *
 * Goal verdicts (bench/event-store/goals.ts): issue 5's goals hold "with the metadata, the outbox and
 * the projections in place", so "met" / "not met" is printed only for `appendAndCommit + projectors`
 * and `appendAndCommit + projector worker`, and only in a run with the product's settings (no override
 * below that changes the relay, the committer or the projectors) and 16 writers. Every other mode's
 * ratios are printed "for reference". The header lists every BENCH_* override of the run.
 *
 * CPU per append: this Node process (and the `brigade worker` process of that mode), and the server's
 * backends connected to the system's own database (bench/cpu.ts meterBackendCpu: the writers', the
 * relay's and the projectors' connections; not the other databases of the server, nor the shared
 * WAL writer, checkpointer and background writer).
 *
 * Environment:
 *   DATABASE_URL          admin connection (default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_SECONDS         measured seconds per system and round (default 8)
 *   BENCH_ROUNDS          rounds; each round measures every system in turn (default 3)
 *   BENCH_WARMUP_SECONDS  warm-up seconds per system, not recorded (default 3)
 *   BENCH_CLIENTS         concurrent writers = pool size = pgbench clients (default 16)
 *   BENCH_MODES           Brigade modes to run, separated by | (default all seven, see BrigadeMode)
 *   BENCH_NO_RELAY        set: no relay runs (the outbox rows pile up): what the outbox row costs alone
 *   BENCH_BUSY_POLL_MS    the relay's poll step (default: the platform's)
 *   BENCH_IN_FLIGHT       group-commit batches in flight on Brigade's pool (default: the platform's)
 *   BENCH_PROJECTOR_IDLE_MS  the projectors' idle step in the `+ projectors` mode (default: the platform's)
 *   BENCH_PROJECTOR_BATCH    the projectors' events per batch in the `+ projectors` mode (default: the platform's)
 *   BENCH_PROJECTOR_TURNS    0: the projectors' batches do not take turns (default: they do, as the
 *                            order views' workers do; decision 0075)
 *   BENCH_WORKER_NODE_ARGS   node flags of the `+ projector worker` mode's process, separated by spaces
 *                            (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`; NODE_OPTIONS refuses --cpu-prof)
 *   BENCH_WORKER_NICE        run the `+ projector worker` mode's process under `nice -n <value>` (default: not niced)
 *   BENCH_DB_PREFIX       the run's database names: <prefix>, <prefix>_emmett, <prefix>_pgbench (default brigade_bench_es)
 *   BENCH_PEERS_DIR       folder whose node_modules holds @event-driven-io/emmett-postgresql
 *                         (default bench/; Emmett is skipped, with a note, when it is missing)
 *
 * Run from the repository root: node --import tsx bench/event-store/run.ts
 */
import { execFile, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { migrationSets } from '../../src/composition/services.ts';
import { chooseByName } from '../chooseByName.ts';
import { meterBackendCpu, pidCpuSeconds } from '../cpu.ts';
import { ADMIN_URL, adminQuery, databaseUrl as urlOf, dropDatabase, freshDatabase, waitUntilReadable } from '../database.ts';
import { inTurns } from '../inTurns.ts';
import { deleteStream } from '../jetstream.ts';
import { benchOverrides, BRIGADE_MODES, JUDGED_MODES, ratioWithGoal, runWithheld, verdictWithheld, type BrigadeMode } from './goals.ts';
import { ORDER_COMMAND_STEPS, orderCommandDriver } from './orderCommands.ts';
import { createDatabases } from '../../src/platform/db/index.ts';
import { createEventStore, type GlobalPosition } from '../../src/platform/events/index.ts';
import { createNatsTransport, createPgTransport, withClaimCheck } from '../../src/platform/messaging/index.ts';
import { runMigrations } from '../../src/platform/migrations/index.ts';
import { createRelay, outboxAppendSql } from '../../src/platform/outbox/index.ts';
import { applyBatch, ensureCheckpoint, projectionStatus, runProjection } from '../../src/platform/projections/index.ts';
import { takeTurns } from '../../src/platform/runtime/index.ts';
import { createTenantRouter } from '../../src/platform/tenancy/index.ts';
import { createOrderStore } from '../../src/services/ordering/orderStore.ts';
import { ORDER_VIEWS, viewWorkers } from '../../src/services/ordering/views/index.ts';

const run = promisify(execFile);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP_SECONDS ?? 3);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const BUSY_POLL = process.env.BENCH_BUSY_POLL_MS === undefined ? {} : { busyPollMs: Number(process.env.BENCH_BUSY_POLL_MS) };
const IN_FLIGHT = process.env.BENCH_IN_FLIGHT === undefined ? undefined : Number(process.env.BENCH_IN_FLIGHT);
const PEERS_DIR = path.resolve(process.env.BENCH_PEERS_DIR ?? path.join(import.meta.dirname, '..'));
/** The run's databases, dropped at its end (BENCH_DB_PREFIX: another name, so that two runs on one server do not drop each other's). */
const DB_PREFIX = process.env.BENCH_DB_PREFIX ?? 'brigade_bench_es';
const DB = { brigade: DB_PREFIX, emmett: `${DB_PREFIX}_emmett`, pgbench: `${DB_PREFIX}_pgbench` };


/**
 * Four events of an order's life, in the ordering domain's shapes (so the projectors fold them), one
 * append each with the expected version checked (0, 1, 2, 3).
 */
const LIFECYCLE = [
  (id: string, restaurantId: string) => ({
    type: 'OrderPlaced',
    data: {
      orderId: id,
      restaurantId,
      customerId: COURIER,
      lines: [
        { lineId: randomUUID(), itemId: randomUUID(), itemVersion: 3, name: 'Margherita', unitPrice: 950, quantity: 2, modifiers: [], lineTotal: 1900 },
        { lineId: randomUUID(), itemId: randomUUID(), itemVersion: 1, name: 'Cola', unitPrice: 300, quantity: 1, modifiers: [], lineTotal: 300 },
      ],
      total: 2200,
      currency: 'EUR',
      deliveryAddress: 'Main St 1, Ghent',
      placedAt: new Date().toISOString(),
    },
  }),
  (id: string) => ({ type: 'OrderAccepted', data: { orderId: id, etaMinutes: 25 } }),
  (id: string) => ({ type: 'CourierAssigned', data: { orderId: id, courierId: COURIER } }),
  (id: string) => ({ type: 'OrderPickedUp', data: { orderId: id, courierId: COURIER } }),
];
const COURIER = randomUUID();
/** The projectors' options in the `+ projectors` mode: the platform's, or BENCH_PROJECTOR_IDLE_MS and BENCH_PROJECTOR_BATCH. */
const PROJECTOR_OPTIONS = {
  ...(process.env.BENCH_PROJECTOR_IDLE_MS === undefined ? {} : { idleMs: Number(process.env.BENCH_PROJECTOR_IDLE_MS) }),
  ...(process.env.BENCH_PROJECTOR_BATCH === undefined ? {} : { batchSize: Number(process.env.BENCH_PROJECTOR_BATCH) }),
};

interface Result {
  appends: number;
  seconds: number;
  latenciesMs: number[];
  conflicts: number;
  /**
   * CPU seconds in the measured window: of this Node process (writers, relay, projectors; the worker
   * process in that mode), and of the server's backends connected to the system's database (NaN when
   * they cannot be read here).
   */
  clientCpu: number;
  serverCpu: number;
  /** WAL the cluster wrote in the measured window (pg_stat_wal: bytes, and full-page images among them). */
  walBytes: number;
  walFpi: number;
  /** With projectors: the most events any of them had left to apply when the writers stopped. */
  projectorLag?: number;
}

/**
 * Runs `CLIENTS` writers doing order lifecycles of `steps` appends (or commands) through `appendOne`
 * for warm-up + measured seconds; the server's CPU is that of `database`'s backends.
 */
async function drive(
  appendOne: (writer: number, orderId: string, step: number) => Promise<void>,
  database: string,
  options: { steps?: number; otherClientCpu?: () => Promise<number> } = {},
): Promise<Result> {
  const { steps = 4, otherClientCpu = () => Promise.resolve(0) } = options;
  const latencies: number[] = [];
  let appends = 0;
  let conflicts = 0;
  let measuring = false;
  let stop = false;
  const writers = Array.from({ length: CLIENTS }, async (_, w) => {
    while (!stop) {
      const orderId = randomUUID();
      for (let step = 0; step < steps && !stop; step++) {
        const t0 = performance.now();
        try {
          await appendOne(w, orderId, step);
        } catch (error) {
          conflicts++;
          if (conflicts < 3) console.error(error);
          continue;
        }
        if (measuring) {
          latencies.push(performance.now() - t0);
          appends++;
        }
      }
    }
  });
  await sleep(WARMUP * 1000);
  measuring = true;
  const started = performance.now();
  const cpu0 = process.cpuUsage();
  const server = await meterBackendCpu(ADMIN_URL, [database]);
  const other0 = await otherClientCpu();
  const wal0 = await walWritten();
  await sleep(SECONDS * 1000);
  measuring = false;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const serverCpu = (await server.stop()) ?? NaN;
  const otherCpu = (await otherClientCpu()) - other0;
  const wal = await walWritten();
  stop = true;
  await Promise.all(writers);
  return {
    appends,
    seconds,
    latenciesMs: latencies,
    conflicts,
    clientCpu: (cpu.user + cpu.system) / 1e6 + otherCpu,
    serverCpu,
    walBytes: wal.bytes - wal0.bytes,
    walFpi: wal.fpi - wal0.fpi,
  };
}

/** The cluster's WAL so far (pg_stat_wal, PostgreSQL 14+): bytes and full-page images. */
async function walWritten(): Promise<{ bytes: number; fpi: number }> {
  const { rows } = await adminQuery<{ bytes: string; fpi: string }>('select wal_bytes::text as bytes, wal_fpi::text as fpi from pg_stat_wal');
  return { bytes: Number(rows[0]!.bytes), fpi: Number(rows[0]!.fpi) };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
function pct(sorted: number[], p: number) {
  return sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}
function summary(r: Result) {
  const s = [...r.latenciesMs].sort((a, b) => a - b);
  const micros = (cpu: number) => (cpu * 1e6) / r.appends;
  return {
    perSecond: r.appends / r.seconds,
    p50: pct(s, 50),
    p99: pct(s, 99),
    clientMicros: micros(r.clientCpu),
    serverMicros: micros(r.serverCpu),
    walBytes: r.walBytes / r.appends,
    walFpi: r.walFpi / r.appends,
  };
}
function merge(results: readonly Result[]): Result {
  return {
    appends: results.reduce((n, r) => n + r.appends, 0),
    seconds: results.reduce((n, r) => n + r.seconds, 0),
    latenciesMs: results.flatMap((r) => r.latenciesMs),
    conflicts: results.reduce((n, r) => n + r.conflicts, 0),
    clientCpu: results.reduce((n, r) => n + r.clientCpu, 0),
    serverCpu: results.reduce((n, r) => n + r.serverCpu, 0),
    walBytes: results.reduce((n, r) => n + r.walBytes, 0),
    walFpi: results.reduce((n, r) => n + r.walFpi, 0),
    ...(results.some((r) => r.projectorLag !== undefined) ? { projectorLag: Math.max(...results.map((r) => r.projectorLag ?? 0)) } : {}),
  };
}

/** One system under test: set up once, then measured in turns with the others. */
interface System {
  readonly name: string;
  /** One measured phase (warm-up + SECONDS). */
  phase(): Promise<Result>;
  close(): Promise<void>;
}

/**
 * Brigade's event store as the ordering service configures it: the ordering store (metadata on every event, the outbox row of each
 * event written by its appendSql hook in the append's own statement), through the tenant router (tenant fence
 * included), with the ordering outbox relay running during the phase as in production (publishing to
 * the PostgreSQL transport, or JetStream when NATS_URL is set; without a relay every producer would
 * NOTIFY, decision 0036). `append in unitOfWork` is the caller's-transaction API (BEGIN + settings +
 * fence in one batch with the append and its outbox row, then COMMIT: two round trips);
 * `appendAndCommit` sends all of it as one implicit transaction in one round trip; the last mode also
 * runs the three order-view projectors during the phase, as `brigade start` does. `appendAndCommit, no
 * outbox` is the store alone (metadata, fence, one round trip, no outbox row, so no relay): what the
 * outbox and its relay cost. `appendAndCommit, unmerged` is `appendAndCommit` with a store that does not
 * let the group committer merge its appends (`mergeAppends: false`, decision 0063): what merging gains.
 * `appendAndCommit + projector worker` runs the three projectors as `brigade worker
 * ordering/projection-board ordering/projection-customer-orders ordering/projection-courier-tasks`, a
 * process of their own on the same machine (the `serve` + `worker` deployment, decision 0077); that
 * process's CPU is counted with the client's. `order commands` (bench/event-store/orderCommands.ts)
 * is not the store's appends but the ordering service's commands (placeOrder, then runOrderCommand for
 * accept, ready, assign-courier and pick-up), with the relay running and no projectors: what an order's
 * life costs through the app's own command path, for reference (five commands per order, one event each).
 */
async function brigadeSystem(mode: BrigadeMode, database: string): Promise<System & { readonly mode: BrigadeMode; replay(): Promise<{ events: number; perSecond: number; streams: number }> }> {
  const databases = createDatabases({ url: urlOf(database), poolSize: CLIENTS + 8, commitsInFlight: IN_FLIGHT });
  const router = createTenantRouter({ databases });
  const withOutbox = mode !== 'appendAndCommit, no outbox';
  const store =
    mode === 'appendAndCommit, unmerged'
      ? createEventStore({ schema: 'ordering', appendSql: outboxAppendSql('ordering', 'order'), mergeAppends: false })
      : withOutbox
        ? createOrderStore()
        : createEventStore({ schema: 'ordering' });
  const tenants = Array.from({ length: CLIENTS }, () => randomUUID());
  const pool = databases.poolFor('ordering');
  // Wrapped as the platform wraps it (createTransport), so the relay runs the production path.
  const transport = withClaimCheck(
    process.env.NATS_URL
      ? await createNatsTransport({ servers: process.env.NATS_URL, pool, subjects: ['ordering.>'], stream: `BENCH_ES_${process.pid}` })
      : createPgTransport({ pool }),
    { pool },
  );
  return {
    name: `brigade ${mode}`,
    mode,
    phase: async () => {
      // The projectors start at the head, as in a running system: the events the other modes appended
      // before this phase are folded first, untimed.
      const projected = mode === 'appendAndCommit + projectors' || mode === 'appendAndCommit + projector worker';
      if (projected) {
        for (const projection of ORDER_VIEWS.all) {
          const context = { service: 'ordering', actor: { kind: 'system' as const, id: 'bench-catch-up' } };
          await router.unitOfWork(context, (tx) => ensureCheckpoint(tx, projection));
          while ((await router.unitOfWork(context, (tx) => applyBatch(tx, projection, 5000))).read > 0);
        }
      }
      const stop = new AbortController();
      // One set of turns for the three, as `createViewWorkers` gives them (decision 0075).
      const turns = process.env.BENCH_PROJECTOR_TURNS === '0' ? {} : { turns: takeTurns() };
      const worker = mode === 'appendAndCommit + projector worker' ? await startProjectorWorker(database, pool) : null;
      const command = mode === 'order commands' ? orderCommandDriver(router, store, tenants) : null;
      const workers = [
        ...(withOutbox && process.env.BENCH_NO_RELAY === undefined ? [createRelay({ pool, service: 'ordering', transport, ...BUSY_POLL }).run(stop.signal)] : []),
        ...(mode === 'appendAndCommit + projectors' ? ORDER_VIEWS.all.map((projection) => runProjection(pool, projection, { ...PROJECTOR_OPTIONS, ...turns }).run(stop.signal)) : []),
      ];
      try {
        const result = await drive(
          async (w, orderId, step) => {
            if (command !== null) return command(w, orderId, step);
            // Staff commands (as accept, ready, pick-up): a customer's or courier's transaction reads only
            // the orders the order index names them in (decision 0006), and these orders are not indexed.
            const context = { service: 'ordering', tenantId: tenants[w]!, actor: { kind: 'staff' as const, id: orderId } };
            const events = [LIFECYCLE[step]!(orderId, tenants[w]!)];
            if (mode === 'append in unitOfWork') await router.unitOfWork(context, (tx) => store.append(tx, `order-${orderId}`, events, step));
            else await store.appendAndCommit(router.commitStatements, context, `order-${orderId}`, events, step);
          },
          database,
          { steps: command === null ? 4 : ORDER_COMMAND_STEPS, ...(worker === null ? {} : { otherClientCpu: worker.cpuSeconds }) },
        );
        // Whether the projectors kept up: a setting that let them fall behind would flatter the appends.
        if (!projected) return result;
        return { ...result, projectorLag: Math.max(...(await projectionStatus(pool, ORDER_VIEWS.all)).map((state) => state.lagEvents)) };
      } finally {
        stop.abort();
        await Promise.all([...workers, worker?.stop()]);
      }
    },
    // A read rate, for reference: the whole log in global order, folded per stream into a Map. Not the
    // blue/green rebuild of issue 5's goal (bench/projections/rebuild.ts measures that).
    replay: async () => {
      // A session of this database still in a write transaction would hold the read bound back, and
      // the read would stop short of the log's end.
      await waitUntilReadable(pool);
      const t0 = performance.now();
      let events = 0;
      const folded = new Map<string, string>();
      await router.unitOfWork({ service: 'ordering', actor: { kind: 'system', id: 'bench-replay' }, readOnly: true }, async (tx) => {
        let after: GlobalPosition | undefined;
        for (;;) {
          const page = await store.readAll(tx, { after, limit: 5000 });
          if (page.events.length === 0) break;
          for (const e of page.events) folded.set(e.streamId, e.type);
          events += page.events.length;
          after = page.checkpoint;
        }
      });
      return { events, perSecond: events / ((performance.now() - t0) / 1000), streams: folded.size };
    },
    close: async () => {
      await transport.close();
      // The stream captures ordering.>: left behind, it would refuse the next run's stream (subjects overlap).
      if (process.env.NATS_URL) await deleteStream(`BENCH_ES_${process.pid}`, process.env.NATS_URL);
      await databases.close();
    },
  };
}

/**
 * Starts `brigade worker` with the three order-view workers on `database` and waits until all three
 * lead (hold their leader locks, as `projectionStatus` reads them). `cpuSeconds` reads the process's
 * CPU so far; `stop` ends it (SIGTERM) and fails when it did not stop cleanly.
 */
async function startProjectorWorker(database: string, pool: pg.Pool): Promise<{ cpuSeconds: () => Promise<number>; stop: () => Promise<void> }> {
  const args = [...(process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter(Boolean), path.join(import.meta.dirname, '..', '..', 'bin', 'brigade.js'), 'worker', ...viewWorkers.map((w) => `ordering/${w.name}`)];
  // `nice -n N node …` execs node in place: the pid (read for its CPU) is the worker's own.
  const nice = process.env.BENCH_WORKER_NICE;
  const child = spawn(nice === undefined ? process.execPath : 'nice', nice === undefined ? args : ['-n', nice, process.execPath, ...args], {
    env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'warn', DATABASE_URL: urlOf(database), BRIGADE_SECRET: 'bench-'.repeat(8) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  while (!(await projectionStatus(pool, ORDER_VIEWS.all)).every((state) => state.leaderPid !== null)) {
    if (child.exitCode !== null) throw new Error(`brigade worker exited with ${child.exitCode} before its projectors led`);
    await sleep(50);
  }
  return {
    cpuSeconds: () => pidCpuSeconds(child.pid!),
    stop: async () => {
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`brigade worker exited with ${code} on SIGTERM`);
    },
  };
}

async function emmettSystem(): Promise<(System & { version: string }) | null> {
  const require = createRequire(path.join(PEERS_DIR, 'package.json'));
  let entry: string;
  try {
    entry = require.resolve('@event-driven-io/emmett-postgresql');
  } catch {
    return null;
  }
  const emmett = (await import(pathToFileURL(entry.replace(/index\.cjs$/, 'index.js')).href)) as {
    getPostgreSQLEventStore: (url: string, options: unknown) => {
      appendToStream(stream: string, events: unknown[], options: { expectedStreamVersion: bigint }): Promise<unknown>;
      close(): Promise<void>;
    };
  };
  await freshDatabase(DB.emmett);
  const pool = new pg.Pool({ connectionString: urlOf(DB.emmett), max: CLIENTS });
  const store = emmett.getPostgreSQLEventStore(urlOf(DB.emmett), { connectionOptions: { pooled: true, pool } });
  // Creates Emmett's schema before anything is timed.
  await store.appendToStream(`order-${randomUUID()}`, [LIFECYCLE[0]!(randomUUID(), 'warm-up')], { expectedStreamVersion: 0n });
  const version = (JSON.parse(await readFile(path.join(path.dirname(entry), '..', 'package.json'), 'utf8')) as { version: string }).version;
  return {
    name: `emmett-postgresql ${version}`,
    version,
    phase: () =>
      drive(async (w, orderId, step) => {
        await store.appendToStream(`order-${orderId}`, [LIFECYCLE[step]!(orderId, w.toString())], { expectedStreamVersion: BigInt(step) });
      }, DB.emmett),
    close: async () => {
      await store.close().catch(() => undefined);
      await pool.end().catch(() => undefined);
    },
  };
}

async function pgbenchSystem(): Promise<System> {
  await freshDatabase(DB.pgbench);
  const u = new URL(urlOf(DB.pgbench));
  const conn = ['-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username || 'postgres')];
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password) };
  await run('pgbench', ['-i', '-q', '-s', String(CLIENTS), ...conn, DB.pgbench], { env });
  return {
    name: 'pgbench -N (tps)',
    phase: async () => {
      const logDir = await mkdtemp(path.join(os.tmpdir(), 'pgbench-log-'));
      try {
        // pgbench's backends live for the run only: the meter samples them while they do (each loses
        // at most the meter's step at its end).
        const server = await meterBackendCpu(ADMIN_URL, [DB.pgbench]);
        const wal0 = await walWritten();
        const args = ['-N', '-c', String(CLIENTS), '-j', '2', '-T', String(WARMUP + SECONDS), '-l', `--log-prefix=${path.join(logDir, 'tx')}`, ...conn, DB.pgbench];
        await run('pgbench', args, { env, maxBuffer: 1 << 24 }).catch(async (error: unknown) => {
          await server.stop().catch(() => undefined);
          throw error;
        });
        // The server's CPU over the whole run, scaled to the measured window.
        const serverCpu = (((await server.stop()) ?? NaN) * SECONDS) / (WARMUP + SECONDS);
        const wal = await walWritten();
        const inWindow = (n: number) => (n * SECONDS) / (WARMUP + SECONDS);
        // Per-transaction log lines: client_id transaction_no latency_us script_no epoch_s epoch_us.
        let first = Infinity;
        const rows: Array<[number, number]> = [];
        for (const file of await readdir(logDir)) {
          for (const line of (await readFile(path.join(logDir, file), 'utf8')).split('\n')) {
            const f = line.split(' ');
            if (f.length < 6) continue;
            const at = Number(f[4]) + Number(f[5]) / 1e6;
            first = Math.min(first, at);
            rows.push([at, Number(f[2]) / 1000]);
          }
        }
        // Same warm-up cut as the appends: only transactions finished in the measured window count.
        const latencies = rows.filter(([at]) => at - first >= WARMUP && at - first < WARMUP + SECONDS).map(([, ms]) => ms);
        return {
          appends: latencies.length,
          seconds: SECONDS,
          latenciesMs: latencies,
          conflicts: 0,
          clientCpu: NaN,
          serverCpu,
          walBytes: inWindow(wal.bytes - wal0.bytes),
          walFpi: inWindow(wal.fpi - wal0.fpi),
        };
      } finally {
        await rm(logDir, { recursive: true, force: true });
      }
    },
    close: async () => undefined,
  };
}

async function main() {
  const version = (await adminQuery('show server_version')).rows[0]?.server_version as string;
  console.log(
    `event-store benchmark: ${CLIENTS} writers, ${ROUNDS} rounds, each system ${WARMUP}s warm-up + ${SECONDS}s measured per round, in turns (the order rotated each round); ` +
      `PostgreSQL ${version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}`,
  );
  const overrides = benchOverrides(process.env);
  console.log(`overrides: ${overrides.length === 0 ? 'none' : overrides.join(' ')}`);
  console.log(
    process.env.BENCH_NO_RELAY === undefined
      ? `relay: running in every mode with the outbox, publishing to ${process.env.NATS_URL ? `JetStream (NATS_URL=${process.env.NATS_URL})` : 'the PostgreSQL transport'}`
      : 'relay: OFF (BENCH_NO_RELAY): the outbox rows pile up, and no mode has everything in place',
  );
  const withheld = runWithheld(process.env, CLIENTS);
  console.log(
    withheld.length === 0
      ? `goal verdicts: for ${JUDGED_MODES.map((m) => `'${m}'`).join(' and ')} (metadata, outbox, relay and projectors in place); every other mode "for reference"`
      : `goal verdicts: none in this run (${withheld.join('; ')}); every ratio is for reference`,
  );
  const modes = chooseByName('BENCH_MODES', process.env.BENCH_MODES?.split('|') ?? [], [...BRIGADE_MODES]);
  const systems: System[] = [];
  try {
    await freshDatabase(DB.brigade);
    await runMigrations({ url: urlOf(DB.brigade), sets: migrationSets() });
    const brigade: Array<Awaited<ReturnType<typeof brigadeSystem>>> = [];
    for (const mode of modes) brigade.push(await brigadeSystem(mode, DB.brigade));
    systems.push(...brigade);
    const emmett = await emmettSystem();
    if (emmett === null) console.log(`emmett-postgresql skipped: @event-driven-io/emmett-postgresql is not installed under ${PEERS_DIR}/node_modules`);
    else systems.push(emmett);
    const pgbench = await pgbenchSystem();
    systems.push(pgbench);
    // pgbench -i and the migrations left dirty pages: written out now, not in the first phase's window.
    await adminQuery('checkpoint');

    // In turns, so that the load of a shared machine falls on every system alike; the order rotates by
    // one each round, so no system always runs first (after the set-up) or last.
    const results = new Map<System, Result[]>(systems.map((s) => [s, []]));
    for (let round = 1; round <= ROUNDS; round++) {
      const line: string[] = [];
      for (const system of inTurns(systems, round)) {
        const r = await system.phase();
        results.get(system)!.push(r);
        line.push(`${system.name.replace(/^brigade /, '')} ${(r.appends / r.seconds).toFixed(0)}`);
      }
      console.log(`round ${round}: ${line.join(' · ')}`);
    }

    const micros = (x: number) => (Number.isNaN(x) ? '   -' : x.toFixed(0).padStart(4));
    const row = (name: string, s: ReturnType<typeof summary>, extra = '') =>
      console.log(
        `${name.padEnd(40)} ${s.perSecond.toFixed(0).padStart(8)} /s   p50 ${s.p50.toFixed(2).padStart(6)} ms   p99 ${s.p99.toFixed(2).padStart(6)} ms   ` +
          `CPU per append: client ${micros(s.clientMicros)} µs, server ${micros(s.serverMicros)} µs   ` +
          `WAL per append ${s.walBytes.toFixed(0).padStart(5)} B (${s.walFpi.toFixed(3)} full pages) ${extra}`,
      );
    console.log('');
    console.log("(server CPU: the backends of the system's own database; `order commands`: per command, five per order)");
    const total = (s: System) => merge(results.get(s)!);
    for (const s of systems) {
      const t = total(s);
      const notes = [t.conflicts > 0 ? `(${t.conflicts} errors)` : '', t.projectorLag === undefined ? '' : `projectors' lag at the end <= ${t.projectorLag} events`];
      row(s.name, summary(t), notes.filter(Boolean).join(' '));
    }
    console.log('');
    const e = emmett === null ? null : summary(total(emmett));
    const p = summary(total(pgbench));
    // Per-round ratios too: how far the shared machine moved them.
    const perRound = (a: System, b: System, of: (r: Result) => number = (r) => r.appends / r.seconds) =>
      results.get(a)!.map((r, i) => (of(r) / of(results.get(b)![i]!)).toFixed(2)).join(', ');
    const p99 = (r: Result) => summary(r).p99;
    // The modes issue 5 judges first, with their verdicts; then every other mode, for reference.
    const judgedFirst = [...brigade.filter((b) => JUDGED_MODES.includes(b.mode)), ...brigade.filter((b) => !JUDGED_MODES.includes(b.mode))];
    for (const b of judgedFirst) {
      const t = total(b);
      const s = summary(t);
      const reasons = verdictWithheld(b.mode, process.env, CLIENTS);
      const judged = reasons.length === 0;
      const ratios = [
        e === null
          ? ''
          : `${ratioWithGoal(s.perSecond / e.perSecond, "Emmett's appends/s", perRound(b, emmett!), '>=', 2, judged)}, p99 ${ratioWithGoal(s.p99 / e.p99, "Emmett's", perRound(b, emmett!, p99), '<=', 0.5, judged)}`,
        ratioWithGoal(s.perSecond / p.perSecond, 'pgbench TPS', perRound(b, pgbench), '>=', 1, judged),
        // Next to the verdict: a projector that fell behind would flatter the appends.
        t.projectorLag === undefined ? '' : `projectors' lag at the end <= ${t.projectorLag} events (${((t.projectorLag / s.perSecond) * 1000).toFixed(0)} ms of appends)`,
      ].filter(Boolean);
      const label = judged ? `${b.mode} (issue 5's goals)` : `${b.mode} (for reference, no goal verdict: ${reasons.join('; ')})`;
      console.log(`${label}: ${ratios.join('; ')}`);
    }
    const replay = await brigade.at(-1)!.replay();
    console.log(
      `log read + fold, for reference (readAll in pages of 5,000 folded per stream into a Map; the rebuild goal is judged by bench/projections/rebuild.ts): ` +
        `${replay.events} events of ${replay.streams} streams at ${replay.perSecond.toFixed(0)} events/s`,
    );
  } finally {
    for (const s of systems) await s.close().catch(() => undefined);
    for (const name of Object.values(DB)) await dropDatabase(name).catch(() => undefined);
  }
}

await main();
