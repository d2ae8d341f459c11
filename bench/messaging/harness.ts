/**
 * The measuring loop shared by the commit → handler benchmarks of this folder: a fresh database with a
 * `bench_orders` table, PRODUCERS concurrent producers each doing one business transaction per message
 * (the system's `produce`), and the time from each commit to its handler starting.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';

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
  readonly adminUrl: string;
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
}

/** Runs `setup`'s system once on a database of its own, then drops that database. */
export async function measureCommitToHandler(options: BenchOptions, setup: BenchSetup): Promise<BenchResult> {
  const { messages: n, warmup, adminUrl } = options;
  const dbName = `brigade_bench_msg_${randomBytes(3).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`create database ${dbName}`);
  const url = new URL(adminUrl);
  url.pathname = `/${dbName}`;
  const producers = new pg.Pool({ connectionString: url.toString(), max: options.producers });
  producers.on('error', () => undefined); // idle clients killed by the final DROP … WITH (FORCE)
  await producers.query('create table bench_orders (n int primary key, at timestamptz default now())');
  await producers.query(`do $$ begin create role brigade_delivery nologin; exception when duplicate_object then null; end $$`);
  await producers.query('grant insert on bench_orders to brigade_delivery');
  const total = warmup + n;
  const committed = new Float64Array(total);
  const handled = new Float64Array(total);
  let count = 0;
  let allDone!: () => void;
  const finished = new Promise<void>((r) => (allDone = r));
  const system = await setup(url.toString(), producers, (i) => {
    if (handled[i] === 0) {
      handled[i] = performance.now();
      if (++count === total) allDone();
    }
  });
  let next = 0;
  let start = 0;
  const producer = async () => {
    for (;;) {
      const i = next++;
      if (i >= total) return;
      if (i === warmup) start = performance.now();
      await system.produce(i);
      committed[i] = performance.now();
      await system.afterCommit?.(i);
    }
  };
  await Promise.all(Array.from({ length: options.producers }, producer));
  const producerTps = n / ((performance.now() - start) / 1000);
  let result: BenchResult = { rate: 0, p50: 0, p99: 0, producerTps, latencies: [] };
  if (system.producersOnly !== true) {
    await finished;
    const end = Math.max(...handled.subarray(warmup));
    const latencies = Array.from({ length: n }, (_, i) => Math.max(0, handled[warmup + i]! - committed[warmup + i]!)).sort((a, b) => a - b);
    result = { rate: n / ((end - start) / 1000), p50: latencies[Math.floor(n * 0.5)]!, p99: latencies[Math.floor(n * 0.99)]!, producerTps, latencies };
  }
  await system.stop();
  await producers.end();
  // Without FORCE first: the peers' pools close their connections asynchronously after stop().
  for (let i = 0; ; i++) {
    const dropped = await admin.query(`drop database ${dbName}${i === 50 ? ' with (force)' : ''}`).then(() => true, () => false);
    if (dropped || i === 50) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await admin.end();
  return result;
}
