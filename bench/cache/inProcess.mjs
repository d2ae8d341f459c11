/**
 * Cache-aside hit path, in process (no HTTP yet: the HTTP benchmark of issue 4 needs the menu routes).
 * Variants, each with BENCH_CLIENTS concurrent loops over BENCH_SECONDS:
 *   ceiling   Promise.resolve of a constant entry (what a route would do with no cache at all)
 *   memory    getOrLoad hit, in-process LRU
 *   redis     getOrLoad hit, one GET to Redis (REDIS_URL, default redis://127.0.0.1:6379)
 *   uncached  the loader itself: one SELECT of a ~3 KB JSON document on PostgreSQL (DATABASE_URL)
 * Prints calls/s, p99 latency and the ratio to the ceiling.
 *
 *   node --import tsx bench/cache/inProcess.mjs
 */
import pg from 'pg';
import { createCache } from '../../src/platform/cache/index.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const clients = Number(process.env.BENCH_CLIENTS ?? 32);
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres', max: clients });
const doc = JSON.stringify({ items: Array.from({ length: 40 }, (_, i) => ({ id: i, name: `Dish number ${i}`, price: 1000 + i, tags: ['spicy', 'vegan'] })) });
const loader = async () => {
  const { rows } = await pool.query('select $1::text as body', [doc]);
  return { body: rows[0].body, etag: '"v1"' };
};

async function run(name, call) {
  for (let i = 0; i < 200; i += 1) await call(); // warm-up
  const latencies = [];
  let count = 0;
  const end = performance.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        await call();
        latencies.push(performance.now() - t);
        count += 1;
      }
    }),
  );
  latencies.sort((a, b) => a - b);
  return { name, perSecond: count / seconds, p99: latencies[Math.floor(latencies.length * 0.99)] };
}

const memory = createCache({ namespace: `bench_${process.pid}`, redis: null });
const redis = createCache({ namespace: `bench_${process.pid}`, redis: redisUrl });
await redis.ready();
const constant = { body: Buffer.from(doc), etag: '"v1"', source: 'memory' };
await memory.getOrLoad('menu', loader);
await redis.getOrLoad('menu', loader);
const results = [
  await run('ceiling', () => Promise.resolve(constant)),
  await run('memory', () => memory.getOrLoad('menu', loader)),
  await run('redis', () => redis.getOrLoad('menu', loader)),
  await run('uncached', loader),
];
const ceiling = results[0].perSecond;
console.log(`cache-aside hit path, ${clients} concurrent callers, ${seconds} s each, ${doc.length}-byte document`);
for (const r of results) {
  console.log(`${r.name.padEnd(9)} ${Math.round(r.perSecond).toString().padStart(10)} calls/s  p99 ${r.p99.toFixed(3)} ms  ${(r.perSecond / ceiling * 100).toFixed(1)}% of ceiling`);
}
await redis.evict('menu');
await Promise.all([memory.close(), redis.close(), pool.end()]);
