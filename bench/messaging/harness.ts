/**
 * The measuring loop shared by the commit → handler benchmarks of this folder: a fresh database with a
 * `bench_orders` table, PRODUCERS concurrent producers each doing one business transaction per message
 * (the system's `produce`), and the time from each commit to its handler starting; and the peers,
 * graphile-worker and pg-boss, set up the same way for both.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Logger, run as runGraphile } from 'graphile-worker';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { configureGroupCommit } from '../../src/platform/db/index.ts';
import { ensureBusSchema } from '../../src/platform/messaging/index.ts';
import { outboxMigrationsSql } from '../../src/platform/outbox/index.ts';
import { cpuSince, readCpu, type CpuReading } from '../cpu.ts';
import { adminQuery, freshDatabase } from '../database.ts';
export { deleteStream } from '../jetstream.ts';

/** The benchmarks' settings, read once: NATS_URL, BENCH_MESSAGES; 16 producers and 16 handlers (DATABASE_URL: bench/database.ts). */
export const SETTINGS = Object.freeze({
  natsUrl: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  messages: Number(process.env.BENCH_MESSAGES ?? 4000),
  warmup: 200,
  producers: 16,
  handlers: 16,
});

/** A pool on database `url`, migrated as a service's relay needs it: the delivery outbox and the bus (with the relay's grants). */
export async function prepareOutbox(url: string, max = 20): Promise<pg.Pool> {
  const pool = new pg.Pool({ connectionString: url, max });
  pool.on('error', () => undefined);
  await pool.query(await readFile(new URL('../../src/services/platform/migrations/0001_service_schemas_and_roles.sql', import.meta.url), 'utf8'));
  for (const sql of outboxMigrationsSql({ schema: 'delivery', role: 'brigade_delivery' })) await pool.query(sql);
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
}

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
   * consumers), every PostgreSQL process, and nats-server.
   */
  readonly cpu: { readonly node: number; readonly postgres: number; readonly nats: number };
}



/** Runs `setup`'s system once on a database of its own, then drops that database. */
export async function measureCommitToHandler(options: BenchOptions, setup: BenchSetup): Promise<BenchResult> {
  const { messages: n, warmup } = options;
  const dbName = `brigade_bench_msg_${randomBytes(3).toString('hex')}`;
  const url = await freshDatabase(dbName);
  const producers = new pg.Pool({ connectionString: url, max: options.producers });
  producers.on('error', () => undefined); // idle clients killed by the final DROP … WITH (FORCE)
  if (process.env.BENCH_IN_FLIGHT !== undefined) configureGroupCommit(producers, { maxInFlight: Number(process.env.BENCH_IN_FLIGHT) });
  await producers.query('create table bench_orders (n int primary key, at timestamptz default now())');
  await producers.query(`do $$ begin create role brigade_delivery nologin; exception when duplicate_object then null; end $$`);
  await producers.query('grant insert on bench_orders to brigade_delivery');
  const total = warmup + n;
  const committed = new Float64Array(total);
  const handled = new Float64Array(total);
  let count = 0;
  let allDone!: () => void;
  const finished = new Promise<void>((r) => (allDone = r));
  const system = await setup(url, producers, (i) => {
    if (handled[i] === 0) {
      handled[i] = performance.now();
      if (++count === total) allDone();
    }
  });
  let next = 0;
  let start = 0;
  let cpu0: Promise<CpuReading> | undefined;
  const producer = async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      if (i === warmup) {
        start = performance.now();
        cpu0 = readCpu();
      }
      await system.produce(i);
      committed[i] = performance.now();
      await system.afterCommit?.(i);
    }
  };
  await Promise.all(Array.from({ length: options.producers }, producer));
  const producerTps = n / ((performance.now() - start) / 1000);
  const cpu = await cpuSince(await cpu0!, n);
  let result: BenchResult = { rate: 0, p50: 0, p99: 0, producerTps, latencies: [], cpu };
  if (system.producersOnly !== true) {
    await finished;
    const end = Math.max(...handled.subarray(warmup));
    const latencies = Array.from({ length: n }, (_, i) => Math.max(0, handled[warmup + i]! - committed[warmup + i]!)).sort((a, b) => a - b);
    result = { rate: n / ((end - start) / 1000), p50: latencies[Math.floor(n * 0.5)]!, p99: latencies[Math.floor(n * 0.99)]!, producerTps, latencies, cpu };
  }
  await system.stop();
  await producers.end();
  // Without FORCE first: the peers' pools close their connections asynchronously after stop().
  for (let i = 0; ; i++) {
    const dropped = await adminQuery(`drop database ${dbName}${i === 50 ? ' with (force)' : ''}`).then(() => true, () => false);
    if (dropped || i === 50) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return result;
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

/**
 * The peers, each sending inside the business transaction as its documentation says: graphile-worker
 * with `add_job`, pg-boss with `send(…, { db })` on the transaction's client (a queue with notify).
 * `concurrency` handlers each.
 */
export function peerSetups(concurrency: number): Record<'graphile-worker' | 'pg-boss', BenchSetup> {
  return {
    'graphile-worker': inTransaction(async (url, onHandled) => {
      const runner = await runGraphile({
        connectionString: url,
        concurrency,
        noHandleSignals: true,
        pollInterval: 1000,
        logger: new Logger(() => () => undefined),
        taskList: { bench: async (payload) => onHandled((payload as { n: number }).n) },
      });
      return {
        produce: async (client, n) => {
          await insertOrder(client, n);
          await client.query(`select graphile_worker.add_job('bench', $1::json)`, [JSON.stringify({ n })]);
        },
        stop: () => runner.stop(),
      };
    }),
    'pg-boss': inTransaction(async (url, onHandled) => {
      const boss = new PgBoss({ connectionString: url, useListenNotify: true } as ConstructorParameters<typeof PgBoss>[0]);
      boss.on('error', () => undefined);
      await boss.start();
      await boss.createQueue('bench', { notify: true } as never);
      const options = { localConcurrency: concurrency, batchSize: 1, pollingIntervalSeconds: 0.5, notifyPollingIntervalSeconds: 0.5 } as Parameters<typeof boss.work>[1];
      await boss.work<{ n: number }>('bench', options as never, (async (jobs: Array<{ data: { n: number } }>) => {
        for (const j of jobs) onHandled(j.data.n);
      }) as never);
      return {
        produce: async (client, n) => {
          await insertOrder(client, n);
          await boss.send('bench', { n }, { db: { executeSql: (text: string, values?: unknown[]) => client.query(text, values) } } as never);
        },
        stop: () => boss.stop({ graceful: true, wait: true } as never),
      };
    }),
  };
}
