/**
 * The measuring loop shared by the commit → handler benchmarks of this folder: a fresh database with a
 * `bench_orders` table, PRODUCERS concurrent producers each doing one business transaction per message
 * (the system's `produce`), and the time from each commit to its handler starting. The peers,
 * graphile-worker and pg-boss, are set up in peers.ts.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import pg from 'pg';
import { configureGroupCommit } from '../../src/platform/db/index.ts';
import { ensureBusSchema } from '../../src/platform/messaging/index.ts';
import { outboxMigrationsSql } from '../../src/platform/outbox/index.ts';
import { meterBackendCpu, processCpuSeconds } from '../cpu.ts';
import { ADMIN_URL, adminQuery, freshDatabase } from '../database.ts';
export { deleteStream } from '../jetstream.ts';

/** The benchmarks' settings, read once: NATS_URL, BENCH_MESSAGES; 16 producers and 16 handlers (DATABASE_URL: bench/database.ts). */
export const SETTINGS = Object.freeze({
  natsUrl: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  messages: Number(process.env.BENCH_MESSAGES ?? 4000),
  warmup: 200,
  producers: 16,
  handlers: 16,
});

/**
 * A pool on database `url`, migrated as a service's relay and consumers need it: the delivery outbox,
 * its inbox (delivery migration 0003) and the bus (with the relay's grants).
 */
export async function prepareOutbox(url: string, max = 20): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  await pool.query(await readFile(new URL('../../src/services/platform/migrations/0001_service_schemas_and_roles.sql', import.meta.url), 'utf8'));
  for (const sql of outboxMigrationsSql({ schema: 'delivery', role: 'brigade_delivery' })) await pool.query(sql);
  await pool.query(await readFile(new URL('../../src/services/delivery/migrations/0003_inbox.sql', import.meta.url), 'utf8'));
  await ensureBusSchema(pool);
  // As migrated: the relay's role may write the bus of its own database (the in-database relay, decision
  // 0056), its own service's subjects only (0020).
  for (const file of ['0007_bus_grants_for_relays.sql', '0020_bus_publish_own_subjects.sql']) {
    await pool.query(await readFile(new URL(`../../src/services/platform/migrations/${file}`, import.meta.url), 'utf8'));
  }
  return pool;
}

/** One system under test, set up on a fresh database. */
export interface BenchSystem {
  /** One business transaction that produces message `n`, committed when it resolves. */
  produce(n: number): Promise<void>;
  /** Work after COMMIT that is still part of sending (a broker publish without an outbox). */
  afterCommit?(n: number): Promise<void>;
  /** No consumer: only the producers are measured. */
  readonly producersOnly?: boolean;
  stop(): Promise<void>;
}

/** Sets a system up on database `url`; `onHandled(n)` is what its handler calls for message `n`. */
export type BenchSetup = (url: string, producers: pg.Pool, onHandled: (n: number) => void) => Promise<BenchSystem>;

export interface BenchOptions {
  /** Measured messages (after `warmup` more). */
  readonly messages: number;
  readonly warmup: number;
  readonly producers: number;
  /**
   * Once the producers are done, how long the handlers may go without a new message before the
   * measurement fails, saying how many arrived (a lost message would otherwise wait forever). Default
   * {@link DEFAULT_STALL_MS}.
   */
  readonly stallMs?: number;
}

/** Default {@link BenchOptions.stallMs}: 30 s, thirty of graphile-worker's 1 s poll steps. */
export const DEFAULT_STALL_MS = 30_000;

export interface BenchResult {
  /** Messages handled per second (0 for producers-only systems). */
  readonly rate: number;
  readonly p50: number;
  readonly p99: number;
  /** Producers' business transactions per second. */
  readonly producerTps: number;
  /** Commit-to-handler latencies of the measured messages, ms, sorted (empty for producers-only systems). */
  readonly latencies: number[];
  /**
   * CPU seconds per measured message while the producers ran: this Node process (producers, relay,
   * consumers), the server's backends connected to the system's database (NaN when they cannot be
   * read here; not the other databases of the server), and nats-server.
   */
  readonly cpu: { readonly node: number; readonly postgres: number; readonly nats: number };
}



/**
 * Runs `setup`'s system once on a database of its own. Whatever happens (a set-up, a producer or a stop
 * that fails, messages that never reach a handler), the system is stopped and the database dropped.
 *
 * @throws when no new message reached a handler for `stallMs` after the producers were done, saying how
 *   many of how many arrived and the first missing; or what the system's set-up, producers or stop threw.
 */
export async function measureCommitToHandler(options: BenchOptions, setup: BenchSetup): Promise<BenchResult> {
  const { messages: n, warmup, stallMs = DEFAULT_STALL_MS } = options;
  const dbName = `brigade_bench_msg_${randomBytes(3).toString('hex')}`;
  const url = await freshDatabase(dbName);
  let producers: pg.Pool | undefined;
  let system: BenchSystem | undefined;
  const measure = async (): Promise<BenchResult> => {
    producers = new pg.Pool({ connectionString: url, max: options.producers });
    producers.on('error', () => undefined); // idle clients killed by the final DROP … WITH (FORCE)
    if (process.env.BENCH_IN_FLIGHT !== undefined) configureGroupCommit(producers, { maxInFlight: Number(process.env.BENCH_IN_FLIGHT) });
    await producers.query('create table bench_orders (n int primary key, at timestamptz default now())');
    await producers.query(`do $$ begin create role brigade_delivery nologin; exception when duplicate_object then null; end $$`);
    await producers.query('grant insert on bench_orders to brigade_delivery');
    const total = warmup + n;
    const committed = new Float64Array(total);
    const handled = new Float64Array(total);
    let count = 0;
    system = await setup(url, producers, (i) => {
      if (i >= 0 && i < total && handled[i] === 0) {
        handled[i] = performance.now();
        count++;
      }
    });
    const running = system;
    let next = 0;
    let start = 0;
    let cpu0: Promise<{ node: number; nats: number; server: Awaited<ReturnType<typeof meterBackendCpu>> }> | undefined;
    const producer = async () => {
      for (;;) {
        const i = next++;
        if (i >= total) return;
        if (i === warmup) {
          start = performance.now();
          cpu0 = (async () => ({ node: nodeCpuSeconds(), nats: await processCpuSeconds('nats-server'), server: await meterBackendCpu(ADMIN_URL, [dbName]) }))();
        }
        try {
          await running.produce(i);
          committed[i] = performance.now();
          await running.afterCommit?.(i);
        } catch (error) {
          next = total; // the other producers stop after their current message
          throw error;
        }
      }
    };
    const produced = await Promise.allSettled(Array.from({ length: options.producers }, producer));
    const before = await cpu0;
    const serverSeconds = (await before?.server.stop()) ?? NaN;
    const lost = produced.find((p): p is PromiseRejectedResult => p.status === 'rejected');
    if (lost !== undefined) throw lost.reason;
    const producerTps = n / ((performance.now() - start) / 1000);
    const cpu = { node: (nodeCpuSeconds() - before!.node) / n, postgres: serverSeconds / n, nats: ((await processCpuSeconds('nats-server')) - before!.nats) / n };
    let result: BenchResult = { rate: 0, p50: 0, p99: 0, producerTps, latencies: [], cpu };
    if (running.producersOnly !== true) {
      // Every message to its handler, or a failure that says how many came: a lost one must not hang the run.
      let seen = count;
      let lastProgress = performance.now();
      while (count < total) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        if (count !== seen) {
          seen = count;
          lastProgress = performance.now();
        } else if (performance.now() - lastProgress > stallMs) {
          const missing = handled.findIndex((at) => at === 0);
          throw new Error(
            `only ${count} of ${total} messages (${warmup} warm-up + ${n}) reached the handler: none arrived in the last ${stallMs / 1000} s (message ${missing} is the first missing)`,
          );
        }
      }
      const end = Math.max(...handled.subarray(warmup));
      const latencies = Array.from({ length: n }, (_, i) => Math.max(0, handled[warmup + i]! - committed[warmup + i]!)).sort((a, b) => a - b);
      result = { rate: n / ((end - start) / 1000), p50: latencies[Math.floor(n * 0.5)]!, p99: latencies[Math.floor(n * 0.99)]!, producerTps, latencies, cpu };
    }
    return result;
  };
  const outcome = await measure().then(
    (result) => ({ ok: true as const, result }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  // Stop the consumers, end the producers' pool, drop the database: each even when an earlier one failed.
  const steps: Array<[string, () => Promise<unknown>]> = [
    ['stopping the system', async () => system?.stop()],
    ["ending the producers' pool", async () => producers?.end()],
    [`dropping database ${dbName}`, () => dropWhenFree(dbName)],
  ];
  let cleanupError: unknown;
  for (const [what, step] of steps) {
    await step().catch((error: unknown) => {
      // After a failure, that failure is what the caller hears; a clean-up's own error is printed.
      if (!outcome.ok) console.error(`${what} failed as well:`, error);
      cleanupError ??= error;
    });
  }
  if (!outcome.ok) throw outcome.error;
  if (cleanupError !== undefined) throw cleanupError;
  return outcome.result;
}

/** This process's CPU seconds so far. */
const nodeCpuSeconds = () => {
  const own = process.cpuUsage();
  return (own.user + own.system) / 1e6;
};

/** Drops database `name`, without FORCE first: the peers' pools close their connections asynchronously after stop(). */
async function dropWhenFree(name: string): Promise<void> {
  for (let i = 0; ; i++) {
    const dropped = await adminQuery(`drop database ${name}${i === 50 ? ' with (force)' : ''}`).then(
      () => true,
      (error: unknown) => {
        if (i === 50) throw error;
        return false;
      },
    );
    if (dropped) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A system that sends inside the business transaction, on the producer's connection. */
export interface TransactionalSystem {
  /** The business insert and the send, on `client` inside BEGIN … COMMIT (see {@link inTransaction}). */
  produce(client: pg.PoolClient, n: number): Promise<void>;
  afterCommit?(n: number): Promise<void>;
  stop(): Promise<void>;
}
export type TransactionalSetup = (url: string, onHandled: (n: number) => void) => Promise<TransactionalSystem>;

/** The business write of message `n`: one row of `bench_orders`. */
export const insertOrder = (client: pg.PoolClient, n: number) => client.query('insert into bench_orders (n) values ($1)', [n]);

/** Runs each `produce` of `setup`'s system inside BEGIN … COMMIT on a producer connection. */
export const inTransaction =
  (setup: TransactionalSetup): BenchSetup =>
  async (url, producers, onHandled) => {
    const system = await setup(url, onHandled);
    return {
      produce: async (n) => {
        const client = await producers.connect();
        try {
          await client.query('begin');
          await system.produce(client, n);
          await client.query('commit');
        } finally {
          client.release();
        }
      },
      afterCommit: system.afterCommit,
      stop: system.stop,
    };
  };
