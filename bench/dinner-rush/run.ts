/**
 * Dinner-rush benchmark: orders from placement to payout through the real services, over HTTP,
 * against a platform process this script starts (`brigade start` on a fresh database: HTTP API, every
 * worker, and the stand-in payment provider), beside `pgbench -N` at the same client count on the
 * same PostgreSQL, in one run.
 *
 * Workload (closed loop): BENCH_CLIENTS customers at once, each signs up, puts a card on file, reads
 * the menu and places an order (charged at placement by the payment saga); the restaurant waits for
 * the authorization, accepts, marks both lines prepared and ready; the delivery service's dispatch
 * workers assign a courier, who picks up and delivers; the saga captures and pays out restaurant and
 * courier. The next order of a client starts when its previous one is delivered; the run ends when
 * every payment has settled. Waiting (for the authorization, the courier, the payouts) is done by
 * polling the API (after 50 ms, each wait half as long again, up to 500 ms), as a client without a
 * push channel would.
 *
 * Reported: completed (paid-out) orders/s, p50 and p99 per command (HTTP round trip), and
 * transactions per order: the delta of pg_stat_database.xact_commit of the platform's database from
 * the first order to the last payout, divided by the paid-out orders (every transaction counts: the
 * API's, the workers', the relays', the message bus's, and the polling reads, whose number is printed
 * too; the stand-in provider keeps its ledger in a database of its own, not counted), and the
 * same net of the platform's idle rate (its pollers' commits per second, measured for 10 s before
 * the first order, times the rush's duration). Then
 * `pgbench -N -c BENCH_CLIENTS -j 2 -T BENCH_PGBENCH_SECONDS` (scale BENCH_CLIENTS) for the TPS
 * the same server gives a simple write transaction at that concurrency.
 *
 * Environment:
 *   DATABASE_URL            admin connection (default postgres://postgres@127.0.0.1:5432/postgres)
 *   BENCH_ORDERS            orders (default 300)
 *   BENCH_CLIENTS           concurrent customers = pgbench clients (default 16)
 *   BENCH_RESTAURANTS       restaurants (default 6)
 *   BENCH_COURIERS          couriers (default 2 × BENCH_CLIENTS)
 *   BENCH_PGBENCH_SECONDS   pgbench duration (default 20)
 *   REDIS_URL, NATS_URL     passed to the platform when set (else in-process cache, PostgreSQL transport)
 *
 * Run from the repository root: node --import tsx bench/dinner-rush/run.ts
 */
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { adminQuery, databaseUrl as urlOf, dropDatabase, freshDatabase } from '../database.ts';
import { runDinnerRush } from '../../src/cli/demo/dinnerRush.ts';
import { createTokenService } from '../../src/platform/auth/index.ts';

const run = promisify(execFile);
const ORDERS = Number(process.env.BENCH_ORDERS ?? 300);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 16);
const RESTAURANTS = Number(process.env.BENCH_RESTAURANTS ?? 6);
const COURIERS = Number(process.env.BENCH_COURIERS ?? 2 * CLIENTS);
const PGBENCH_SECONDS = Number(process.env.BENCH_PGBENCH_SECONDS ?? 20);
const DB = { platform: 'brigade_bench_rush', provider: 'brigade_bench_rush_provider', pgbench: 'brigade_bench_rush_pgbench' };
const IDLE_SECONDS = 10;
const ROOT = path.resolve(import.meta.dirname, '..', '..');

/** Committed transactions of a database so far (the statistics collector's view, flushed about once a second). */
async function commits(name: string): Promise<number> {
  return Number((await adminQuery<{ n: string }>('select xact_commit::text as n from pg_stat_database where datname = $1', [name])).rows[0]?.n ?? NaN);
}

/** `brigade start` as a child process on `url`; resolves with the API's base URL once it serves. */
async function startPlatform(url: string, secret: string, home: string) {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'brigade.js'), 'start'], {
    cwd: ROOT,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      DATABASE_URL: url,
      // The provider is a third party: its ledger in a database of its own, so its commits are not counted as Brigade's.
      PROVIDER_DATABASE_URL: urlOf(DB.provider),
      PORT: '0',
      BRIGADE_SECRET: secret,
      BRIGADE_HOME: home,
      LOG_LEVEL: 'warn',
      ...(process.env.REDIS_URL ? { REDIS_URL: process.env.REDIS_URL } : {}),
      ...(process.env.NATS_URL ? { NATS_URL: process.env.NATS_URL } : {}),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  for (const deadline = Date.now() + 120_000; !output.includes('Press Ctrl+C'); await sleep(50)) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`brigade start did not come up:\n${output}`);
  }
  const base = /API +(http:\/\/\S+)\/v1/.exec(output)?.[1];
  if (base === undefined) throw new Error(`no API address in:\n${output}`);
  return {
    base,
    output: () => output,
    stop: async () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

async function pgbenchTps(): Promise<{ tps: number; latencyMs: number }> {
  await freshDatabase(DB.pgbench);
  const u = new URL(urlOf(DB.pgbench));
  const conn = ['-h', u.hostname, '-p', u.port || '5432', '-U', decodeURIComponent(u.username || 'postgres')];
  const env = { ...process.env, PGPASSWORD: decodeURIComponent(u.password) };
  await run('pgbench', ['-i', '-q', '-s', String(CLIENTS), ...conn, DB.pgbench], { env });
  const { stdout } = await run('pgbench', ['-N', '-c', String(CLIENTS), '-j', '2', '-T', String(PGBENCH_SECONDS), ...conn, DB.pgbench], { env, maxBuffer: 1 << 24 });
  return {
    tps: Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(stdout)?.[1] ?? NaN),
    latencyMs: Number(/latency average = ([\d.]+) ms/.exec(stdout)?.[1] ?? NaN),
  };
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? NaN;

async function main() {
  const version = (await adminQuery<{ server_version: string }>('show server_version')).rows[0]?.server_version;
  console.log(
    `dinner-rush benchmark: ${ORDERS} orders, ${CLIENTS} concurrent customers, ${RESTAURANTS} restaurants, ${COURIERS} couriers; ` +
      `PostgreSQL ${version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? '?'}), node ${process.version}` +
      `${process.env.NATS_URL ? ', NATS JetStream' : ', PostgreSQL transport'}${process.env.REDIS_URL ? ', Redis cache' : ', in-process cache'}`,
  );
  const secret = randomBytes(32).toString('hex');
  const home = await mkdtemp(path.join(os.tmpdir(), 'brigade-bench-rush-'));
  await freshDatabase(DB.platform);
  await freshDatabase(DB.provider);
  const platform = await startPlatform(urlOf(DB.platform), secret, home);
  try {
    // The platform's own background rate with nothing to do (pollers, leases, heartbeats).
    await sleep(3000);
    const idleFrom = await commits(DB.platform);
    await sleep(IDLE_SECONDS * 1000);
    const idleRate = ((await commits(DB.platform)) - idleFrom) / IDLE_SECONDS;
    let before = NaN;
    const summary = await runDinnerRush(
      platform.base,
      createTokenService(secret),
      { restaurants: RESTAURANTS, couriers: COURIERS, orders: ORDERS, rate: 0, clients: CLIENTS, cancelShare: 0, declineShare: 0 },
      {
        onStarted: async () => {
          await sleep(1500); // let the set-up's statistics flush
          before = await commits(DB.platform);
        },
        onProgress: (done, total) => {
          if (done % Math.max(1, Math.floor(total / 10)) === 0) process.stdout.write(`  ${done}/${total} orders\n`);
        },
      },
    );
    await sleep(1500);
    const after = await commits(DB.platform);
    const paidOut = summary.payments.paid_out ?? 0;
    if (summary.failed > 0 || paidOut !== ORDERS) console.log(`WARNING: ${summary.failed} failed, payments ${JSON.stringify(summary.payments)}`);
    const code = await platform.stop();
    if (code !== 0) console.log(`brigade start exited ${code}:\n${platform.output()}`);
    const pgb = await pgbenchTps();

    const calls = [...summary.latencies].filter(([name]) => !['setup', 'availability', 'admin'].includes(name) && !name.startsWith('(')).reduce((n, [, l]) => n + l.length, 0);
    const polls = (summary.latencies.get('read order')?.length ?? 0) + (summary.latencies.get('read payment')?.length ?? 0);
    const xacts = after - before;
    console.log('');
    console.log(`completed (paid-out) orders/s   ${(paidOut / summary.seconds).toFixed(2)}   (${paidOut} orders in ${summary.seconds.toFixed(1)} s, placement to last payout)`);
    console.log(`transactions per order          ${(xacts / paidOut).toFixed(1)}   (${xacts} commits; ${(xacts / summary.seconds).toFixed(0)} tx/s during the rush)`);
    console.log(`  net of the idle rate           ${((xacts - idleRate * summary.seconds) / paidOut).toFixed(1)}   (idle platform: ${idleRate.toFixed(1)} tx/s over ${IDLE_SECONDS} s before the rush)`);
    console.log(`HTTP calls per order            ${(calls / paidOut).toFixed(1)}   (of which ${(polls / paidOut).toFixed(1)} polling reads: the authorization, the courier, the payouts)`);
    console.log(`pgbench -N, ${CLIENTS} clients         ${pgb.tps.toFixed(0)} tps   (latency average ${pgb.latencyMs.toFixed(2)} ms)`);
    console.log(`rush tx/s vs pgbench -N TPS     ${(xacts / summary.seconds / pgb.tps).toFixed(2)}x`);
    console.log(`conflicts (412) ${summary.conflicts}, dead letters ${summary.deadLetters}, menu cache hits ${summary.cacheHits}/${summary.cacheReads}`);
    console.log('');
    console.log(`  ${'command'.padEnd(20)} ${'count'.padStart(6)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)}`);
    for (const [name, list] of [...summary.latencies].sort(([a], [b]) => a.localeCompare(b))) {
      const sorted = [...list].sort((a, b) => a - b);
      console.log(`  ${name.padEnd(20)} ${String(sorted.length).padStart(6)} ${percentile(sorted, 0.5).toFixed(1).padStart(8)} ${percentile(sorted, 0.99).toFixed(1).padStart(8)}`);
    }
  } finally {
    await platform.stop().catch(() => undefined);
    await rm(home, { recursive: true, force: true });
    for (const name of Object.values(DB)) await dropDatabase(name).catch(() => undefined);
  }
}

await main();
