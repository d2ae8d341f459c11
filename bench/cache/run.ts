/**
 * Menu reads over HTTP at 32 connections, four ways in one run (issue 4's benchmark):
 *   1. a cache hit in-process (no REDIS_URL)        2. a cache hit from Redis (REDIS_URL)
 *   3. the cache disabled (CACHE_TTL_SECONDS=0): the composite menu read from PostgreSQL
 *   4. the same server returning a constant document of the same size from memory: the ceiling.
 * Each server runs in its own process; autocannon drives it from this one.
 *
 *   node --import tsx bench/cache/run.ts      (DATABASE_URL default the local PostgreSQL, REDIS_URL default local)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { migrationSets } from '../../src/composition/services.ts';
import { createTokenService } from '../../src/platform/auth/index.ts';
import { runMigrations } from '../../src/platform/migrations/index.ts';
import { dropDatabase, freshDatabase } from '../database.ts';

const require = createRequire(import.meta.url);
const autocannon = require('autocannon') as (opts: Record<string, unknown>) => Promise<{ requests: { average: number }; latency: { p50: number; p99: number }; non2xx: number; errors: number }>;
const root = path.resolve(import.meta.dirname, '..', '..');
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const secret = 'bench-secret-that-is-long-enough-for-hs256-signing';
const dbName = 'brigade_bench_menu';

const databaseUrl = await freshDatabase(dbName);
console.log('migrating a scratch database …');
await runMigrations({ url: databaseUrl, sets: migrationSets() });

function start(env: Record<string, string>): Promise<{ child: ChildProcess; base: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'bench/cache/server.ts')], {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, DATABASE_URL: databaseUrl, BRIGADE_SECRET: secret, LOG_LEVEL: 'warn', DATABASE_POOL_SIZE: '16', ...env },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      const port = /READY (\d+)/.exec(chunk.toString())?.[1];
      if (port !== undefined) resolve({ child, base: `http://127.0.0.1:${port}` });
    });
    child.on('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}
const stop = (child: ChildProcess) => new Promise<void>((resolve) => (child.on('exit', () => resolve()), child.kill('SIGTERM')));

// Seed a realistic menu through the real API: 6 categories × 8 items, each with a group of 4 modifiers.
const seedServer = await start({ CACHE_TTL_SECONDS: '0' });
const tokens = createTokenService(secret);
const call = async (method: string, p: string, token: string, body?: unknown) => {
  const r = await fetch(`${seedServer.base}${p}`, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!r.ok) throw new Error(`${method} ${p}: ${r.status} ${await r.text()}`);
  return (await r.json()) as { id: string };
};
const adminToken = await tokens.sign({ role: 'admin', subject: 'bench' });
const rid = (await call('POST', '/v1/restaurants', adminToken, { name: 'Bench Bistro', city: 'Benchville' })).id;
const staff = await tokens.sign({ role: 'staff', restaurantId: rid });
console.log('seeding 6 categories × 8 items × 1 modifier group …');
for (let c = 0; c < 6; c++) {
  const category = await call('POST', `/v1/restaurants/${rid}/menu/categories`, staff, { name: `Category ${c}`, position: c });
  for (let i = 0; i < 8; i++) {
    const item = await call('POST', `/v1/restaurants/${rid}/menu/items`, staff, { categoryId: category.id, name: `Dish ${c}-${i}`, description: 'slow-cooked, seasonal, with herbs from the garden', price: 900 + i * 50 });
    for (const g of ['Extras']) {
      await call('POST', `/v1/restaurants/${rid}/menu/modifier-groups`, staff, { itemId: item.id, name: g, minChoices: 0, maxChoices: 2, modifiers: [1, 2, 3, 4].map((m) => ({ name: `${g} ${m}`, priceDelta: m * 25 })) });
    }
  }
}
const menuBody = await (await fetch(`${seedServer.base}/v1/restaurants/${rid}/menu`)).text();
await stop(seedServer.child);
console.log(`menu document: ${menuBody.length} bytes`);

async function measure(label: string, base: string, p: string) {
  await autocannon({ url: `${base}${p}`, connections: 32, duration: 2 }); // warm-up
  const r = await autocannon({ url: `${base}${p}`, connections: 32, duration: seconds });
  if (r.non2xx > 0 || r.errors > 0) throw new Error(`${label}: ${r.non2xx} non-2xx, ${r.errors} errors`);
  console.log(`${label.padEnd(36)} ${r.requests.average.toFixed(0).padStart(8)} req/s   p50 ${String(r.latency.p50).padStart(4)} ms   p99 ${String(r.latency.p99).padStart(4)} ms`);
  return r;
}

const menuPath = `/v1/restaurants/${rid}/menu`;
const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
const constantFile = path.join(os.tmpdir(), `brigade-bench-menu-${process.pid}.json`);
await fs.writeFile(constantFile, menuBody);
const memory = await start({ BENCH_CONSTANT_FILE: constantFile });
results.ceiling = await measure('constant document (ceiling)', memory.base, '/v1/bench/constant');
results.memory = await measure('cache hit, in-process', memory.base, menuPath);
await stop(memory.child);
const redis = await start({ REDIS_URL: redisUrl });
results.redis = await measure('cache hit, Redis', redis.base, menuPath);
await stop(redis.child);
const off = await start({ CACHE_TTL_SECONDS: '0' });
results.uncached = await measure('cache off: composite read from PostgreSQL', off.base, menuPath);
await stop(off.child);

const rate = (k: string) => results[k]?.requests.average ?? 0;
console.log('\nratios (goal)');
console.log(`  in-process hit / ceiling   ${(rate('memory') / rate('ceiling')).toFixed(2)}  (≥ 0.80, p99 ≤ 10 ms: ${results.memory?.latency.p99} ms)`);
console.log(`  Redis hit / ceiling        ${(rate('redis') / rate('ceiling')).toFixed(2)}  (≥ 0.60)`);
console.log(`  in-process hit / uncached  ${(rate('memory') / rate('uncached')).toFixed(1)}×  (≥ 5×)`);
console.log(`  Redis hit / uncached       ${(rate('redis') / rate('uncached')).toFixed(1)}×  (≥ 5×)`);

await dropDatabase(dbName);
await fs.rm(constantFile, { force: true });
