import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, mock, test } from 'node:test';
import { Redis } from 'ioredis';
import client from 'prom-client';
import { createCache, CacheClosedError, type Cache, type CacheOptions } from '../../../src/platform/cache/index.ts';
import { ValidationError } from '../../../src/platform/errors/index.ts';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { testEnv } from '../../support/env.ts';
import { requireService } from '../../support/services.ts';
import { within } from '../../support/eventually.ts';
import { createProbe, deferred, metricValue, patientRedis, pausedRead, priceOf, type Probe } from './probe.ts';

const redisService = await requireService('redis');

const database = useTestDatabase();
let probe: Probe;
let admin: Redis | null = null;
const namespaces: string[] = [];
const caches: Cache[] = [];
/** Clients the caches share (and so do not close). */
const clients: Redis[] = [];

before(async () => {
  await database.ready;
  probe = await createProbe(database.db.url, { setup: true });
  database.defer(() => probe.close());
  if (redisService.ok) admin = new Redis(testEnv.redisUrl);
  // Runs before the probe closes (clean-ups run last-first).
  database.defer(async () => {
    for (const cache of caches) await cache.close();
    for (const redis of clients) await redis.quit().catch(() => undefined);
    if (admin !== null) {
      for (const ns of namespaces) {
        const keys = await admin.keys(`${ns}:*`);
        if (keys.length > 0) await admin.del(...keys);
      }
      await admin.quit();
    }
  });
});

/**
 * A cache in a namespace of its own, closed after the file. In Redis mode on a client of its own with
 * a patient command timeout (`patientRedis`), or on `client` if given (quit after the file too): these
 * tests check hits and evictions, not degradation.
 */
async function open(mode: 'memory' | 'redis', { client: given, ...options }: Partial<CacheOptions> & { namespace?: string; client?: Redis } = {}): Promise<Cache> {
  const namespace = options.namespace ?? `t_${randomUUID().slice(0, 8)}`;
  if (!namespaces.includes(namespace)) namespaces.push(namespace);
  let redis: Redis | null = null;
  if (mode === 'redis') clients.push((redis = given ?? patientRedis(testEnv.redisUrl)));
  const cache = createCache({ ...options, namespace, redis });
  caches.push(cache);
  await cache.ready();
  return cache;
}

for (const mode of ['memory', 'redis'] as const) {
  const skip = mode === 'redis' ? redisService.skip : false;

  describe(`cache-aside, ${mode} mode`, { skip }, () => {
    test('a miss loads and stores; the next read is a hit from the same tier, with the body and ETag as loaded', async () => {
      const registry = new client.Registry();
      const cache = await open(mode, { registry });
      const tenant = randomUUID();
      await probe.writePrice(tenant, 1250, []);
      const calls = { n: 0 };
      const first = await cache.getOrLoad(tenant, probe.loader(tenant, calls));
      const second = await cache.getOrLoad(tenant, probe.loader(tenant, calls));
      assert.equal(first.source, 'loader');
      assert.equal(second.source, mode);
      assert.equal(calls.n, 1);
      assert.equal(priceOf(second), 1250);
      assert.equal(second.etag, '"p1250"');
      assert.deepEqual(second.body, first.body);
      assert.equal(await metricValue(registry, 'brigade_cache_hits_total', { tier: mode }), 1);
      assert.equal(await metricValue(registry, 'brigade_cache_misses_total'), 1);
      assert.equal(await metricValue(registry, 'brigade_cache_load_duration_seconds', { outcome: 'ok' }), 1);
      if (mode === 'memory') {
        // The in-process hit hands out the stored entry itself: nothing is copied or re-serialised.
        assert.equal(await cache.getOrLoad(tenant, probe.loader(tenant, calls)), second);
      }
    });

    test('a loader without an ETag gets a strong SHA-1 one; Buffers and strings are stored as bytes', async () => {
      const cache = await open(mode);
      const bytes = Buffer.from([0, 10, 255, 10, 13, 0]);
      await cache.getOrLoad('bin', async () => bytes);
      const hit = await cache.getOrLoad('bin', () => Promise.reject(new Error('must not load')));
      assert.deepEqual(hit.body, bytes);
      assert.match(hit.etag, /^"[A-Za-z0-9_-]{27}"$/);
      await cache.getOrLoad('text', async () => 'crème brûlée');
      assert.equal((await cache.getOrLoad('text', () => Promise.reject(new Error('must not load')))).body.toString('utf8'), 'crème brûlée');
    });

    test('single-flight: 50 concurrent misses of one key cause exactly 1 load, and all 50 get its result', async () => {
      const registry = new client.Registry();
      const cache = await open(mode, { registry });
      const tenant = randomUUID();
      await probe.writePrice(tenant, 990, []);
      const calls = { n: 0 };
      const results = await Promise.all(Array.from({ length: 50 }, () => cache.getOrLoad(tenant, probe.loader(tenant, calls))));
      assert.equal(calls.n, 1);
      assert.equal(new Set(results.map((r) => r.body.toString())).size, 1);
      assert.equal(priceOf(results[0]!), 990);
      assert.equal(await metricValue(registry, 'brigade_cache_load_duration_seconds'), 1);
    });

    test('a failing loader fails its readers, caches nothing, and the next read loads again', async () => {
      const cache = await open(mode);
      const failure = new Error('database said no');
      const results = await Promise.allSettled([1, 2, 3].map(() => cache.getOrLoad('k', () => Promise.reject(failure))));
      assert.ok(results.every((r) => r.status === 'rejected' && r.reason === failure));
      assert.equal((await cache.getOrLoad('k', async () => 'ok')).source, 'loader');
    });

    test('eviction after commit: a read right after a committed change never returns the old price', async () => {
      // Errors and counters go into the message: a read that was not cached says why (degraded, fenced out).
      const registry = new client.Registry();
      const errors: string[] = [];
      const cache = await open(mode, { registry, onError: (error, context) => errors.push(`${context.op}: ${String(error)}`) });
      const why = async () =>
        `cache errors: ${errors.join(' | ') || 'none'}; fallbacks ${await metricValue(registry, 'brigade_cache_fallbacks_total')}, ` +
        `stale loads ${await metricValue(registry, 'brigade_cache_stale_loads_total')}, errors ${await metricValue(registry, 'brigade_cache_errors_total')}`;
      const tenant = randomUUID();
      await probe.writePrice(tenant, 100, [cache]);
      for (let price = 101; price <= 120; price += 1) {
        assert.equal(priceOf(await cache.getOrLoad(tenant, probe.loader(tenant))), price - 1);
        const source = (await cache.getOrLoad(tenant, probe.loader(tenant))).source;
        if (source !== mode) assert.fail(`the old price (${price - 1}) is cached: read from ${source}; ${await why()}`);
        await probe.writePrice(tenant, price, [cache]);
        assert.equal(priceOf(await cache.getOrLoad(tenant, probe.loader(tenant))), price);
      }
    });

    test('a rolled-back change evicts nothing', async () => {
      const cache = await open(mode);
      const tenant = randomUUID();
      await probe.writePrice(tenant, 5, []);
      await cache.getOrLoad(tenant, probe.loader(tenant));
      await assert.rejects(
        unitOfWork(probe.pool, { service: 'menu', tenantId: tenant }, async (tx) => {
          tx.afterCommit(() => cache.evict(tenant));
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.notEqual((await cache.getOrLoad(tenant, probe.loader(tenant))).source, 'loader');
    });

    test('the stale-loader race, forced: a load paused across a commit + eviction neither stores nor serves later readers the old price', async () => {
      const registry = new client.Registry();
      // Two instances of one namespace: in Redis mode they share Redis (two app instances), in memory
      // mode they share the in-process bus. The reader's load is paused after its SELECT. The reader
      // does not listen to the Redis broadcast: the generation fence alone must hold.
      const namespace = `t_${randomUUID().slice(0, 8)}`;
      const reader = await open(mode, { namespace, registry, broadcast: false });
      const writer = await open(mode, { namespace });
      const tenant = randomUUID();
      await probe.writePrice(tenant, 700, []);

      const paused = pausedRead(reader, probe, tenant);
      await paused.selected; // the paused load has read 700
      await probe.writePrice(tenant, 701, [writer]); // commit, then evict (awaited by unitOfWork)

      // A reader that arrives after the eviction must not join the paused load.
      const calls = { n: 0 };
      // (Had it joined, it would wait for the paused load: bounded wait, then fail instead of hanging.)
      const late = await Promise.race([
        reader.getOrLoad(tenant, probe.loader(tenant, calls)),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the late reader joined the paused load')), 10_000).unref()),
      ]);
      assert.equal(priceOf(late), 701);
      assert.equal(calls.n, 1);

      paused.release();
      assert.equal(priceOf(await paused.result), 700, 'the paused load returns what it read to its own caller');
      // …but never stores it: every later read, on either instance, sees 701.
      for (const cache of [reader, writer, reader]) assert.equal(priceOf(await cache.getOrLoad(tenant, probe.loader(tenant))), 701);
      assert.equal(await metricValue(registry, 'brigade_cache_stale_loads_total'), 1);
    });

    test('the stale-loader race without a late reader: the paused load is fenced out and the next read loads the new price', async () => {
      const namespace = `t_${randomUUID().slice(0, 8)}`;
      const reader = await open(mode, { namespace, broadcast: false });
      const writer = await open(mode, { namespace });
      const tenant = randomUUID();
      await probe.writePrice(tenant, 10, []);
      const paused = pausedRead(reader, probe, tenant);
      await paused.selected;
      await probe.writePrice(tenant, 11, [writer]);
      paused.release();
      assert.equal(priceOf(await paused.result), 10);
      const calls = { n: 0 };
      const next = await writer.getOrLoad(tenant, probe.loader(tenant, calls));
      assert.equal(priceOf(next), 11);
      assert.equal(calls.n, 1, 'the old value was not written back, so this read missed');
    });

    test('evict takes several keys and evicts only those', async () => {
      const cache = await open(mode);
      for (const key of ['a', 'b', 'c']) await cache.getOrLoad(key, async () => key);
      await cache.evict(['a', 'b']);
      assert.equal((await cache.getOrLoad('a', async () => 'a')).source, 'loader');
      assert.equal((await cache.getOrLoad('b', async () => 'b')).source, 'loader');
      assert.equal((await cache.getOrLoad('c', async () => 'c')).source, mode);
    });

    test('values expire after the TTL', async () => {
      // A TTL of 1 s: the read right after the store comes well within it, even on a loaded machine.
      const cache = await open(mode, { ttlSeconds: 1 });
      await cache.getOrLoad('k', async () => 'v1');
      const early = await cache.getOrLoad('k', async () => 'v2');
      assert.equal(early.source, mode, 'read back before the TTL ran out');
      // Bounded wait for an eventual event: the entry must be gone within 5 s (TTL 1 s).
      const deadline = Date.now() + 5000;
      let entry = await cache.getOrLoad('k', async () => 'v2');
      while (entry.source !== 'loader' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        entry = await cache.getOrLoad('k', async () => 'v2');
      }
      assert.equal(entry.source, 'loader');
      assert.equal(entry.body.toString(), 'v2');
    });

    test("a loader's ttlSeconds shortens its entry's life (never lengthens it past the cache's), timed by the tier's own clock", async () => {
      const cache = await open(mode, { ttlSeconds: 60 });
      await cache.getOrLoad('short', async () => ({ body: 'v1', ttlSeconds: 0.5 }));
      await cache.getOrLoad('long', async () => ({ body: 'v1', ttlSeconds: 3600 }));
      // Hours ahead by this process's clock: the tiers time entries by their own (performance.now, Redis's PX).
      const realNow = Date.now.bind(Date);
      mock.method(Date, 'now', () => realNow() + 3_600_000);
      try {
        assert.equal((await cache.getOrLoad('short', async () => 'v2')).source, mode, 'read back before its TTL ran out');
        // Bounded wait for an eventual event: the entry must be gone within 5 s (its TTL 0.5 s).
        const deadline = realNow() + 5000;
        let entry = await cache.getOrLoad('short', async () => 'v2');
        while (entry.source !== 'loader' && realNow() < deadline) {
          await new Promise((r) => setTimeout(r, 50));
          entry = await cache.getOrLoad('short', async () => 'v2');
        }
        assert.equal(entry.body.toString(), 'v2');
        assert.equal((await cache.getOrLoad('long', async () => 'v2')).source, mode);
      } finally {
        mock.restoreAll();
      }
      if (mode === 'redis') {
        // Capped at the cache's own TTL (60 s).
        const ttl = await admin!.pttl(`${cache.namespace}:{long}:v`);
        assert.ok(ttl > 30_000 && ttl <= 60_000, `PTTL ${ttl}`);
      }
      for (const ttlSeconds of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, '1' as unknown as number]) {
        await assert.rejects(cache.getOrLoad(`bad-${String(ttlSeconds)}`, async () => ({ body: 'x', ttlSeconds })), ValidationError);
      }
    });

    test('rejects bad options and keys with VALIDATION_FAILED, and reads after close with CACHE_CLOSED', async () => {
      assert.throws(() => createCache({ namespace: 'bad namespace' }), ValidationError);
      assert.throws(() => createCache({ namespace: 'ok', ttlSeconds: 0 }), ValidationError);
      assert.throws(() => createCache({ namespace: 'ok', maxEntries: 0 }), ValidationError);
      const cache = await open(mode);
      await assert.rejects(async () => cache.getOrLoad('', async () => 'x'), ValidationError);
      await assert.rejects(cache.getOrLoad('k', async () => ({ body: 'x', etag: 'not quoted' })), ValidationError);
      await cache.close();
      await assert.rejects(async () => cache.getOrLoad('k', async () => 'x'), CacheClosedError);
    });
  });
}

describe('memory mode only', () => {
  test('the LRU keeps at most maxEntries, dropping the least recently used', async () => {
    const cache = await open('memory', { maxEntries: 2 });
    await cache.getOrLoad('a', async () => 'a');
    await cache.getOrLoad('b', async () => 'b');
    await cache.getOrLoad('a', async () => 'a'); // a is now the most recent
    await cache.getOrLoad('c', async () => 'c'); // drops b
    assert.equal((await cache.getOrLoad('a', async () => 'a')).source, 'memory');
    assert.equal((await cache.getOrLoad('b', async () => 'b')).source, 'loader');
  });

  test('the LRU keeps at most maxBytes (body and ETag), dropping the least recently used by size, however few the entries', async () => {
    // Each entry is 100 bytes of body and a 3-byte ETag: 103 bytes; nine fit in 1000, a tenth does not.
    const cache = await open('memory', { maxBytes: 1000 });
    const loadOf = (key: string) => async () => ({ body: key.repeat(100), etag: `"${key}"` });
    const keys = 'abcdefghi'.split('');
    for (const key of keys) assert.equal((await cache.getOrLoad(key, loadOf(key))).source, 'loader');
    for (const key of keys) assert.equal((await cache.getOrLoad(key, loadOf(key))).source, 'memory', `${key} is kept: 927 bytes in all`);
    await cache.getOrLoad('a', loadOf('a')); // a is now the most recent; b the least
    assert.equal((await cache.getOrLoad('j', loadOf('j'))).source, 'loader'); // 1030 bytes: drops b
    assert.equal((await cache.getOrLoad('j', loadOf('j'))).source, 'memory');
    assert.equal((await cache.getOrLoad('a', loadOf('a'))).source, 'memory');
    assert.equal((await cache.getOrLoad('c', loadOf('c'))).source, 'memory');
    assert.equal((await cache.getOrLoad('b', loadOf('b'))).source, 'loader', 'b, the least recently used, made room (before: ten entries of at most 10 000 were kept whatever their size)');
  });

  test('an entry larger than the byte budget, or than an eighth of it, is served but not kept, and pushes nothing else out', async () => {
    const registry = new client.Registry();
    const cache = await open('memory', { maxBytes: 8000, registry });
    const small = async () => ({ body: 's'.repeat(500), etag: '"s"' });
    for (const key of ['one', 'two', 'three']) await cache.getOrLoad(key, small);
    // 1003 bytes: above the per-entry limit (8000 / 8 = 1000) and inside the budget; 9003: above the budget.
    for (const [key, size] of [['big', 1000], ['huge', 9000]] as const) {
      let loads = 0;
      const load = async () => {
        loads++;
        return { body: 'x'.repeat(size), etag: '"x"' };
      };
      const first = await cache.getOrLoad(key, load);
      assert.deepEqual([first.source, first.body.length], ['loader', size], 'served');
      assert.equal((await cache.getOrLoad(key, load)).source, 'loader', `${key} is not kept (before: kept, a hit)`);
      assert.equal(loads, 2);
    }
    for (const key of ['one', 'two', 'three']) assert.equal((await cache.getOrLoad(key, small)).source, 'memory', `${key} was not pushed out`);
    assert.equal(await metricValue(registry, 'brigade_cache_oversized_total', { cache: cache.namespace }), 4);
  });

  test('rejects a byte budget or a per-entry limit that is not a positive integer, or a per-entry limit above the budget', () => {
    for (const options of [{ maxBytes: 0 }, { maxBytes: 1.5 }, { maxEntryBytes: 0 }, { maxBytes: 1000, maxEntryBytes: 1001 }]) {
      assert.throws(() => createCache({ namespace: 'ok', ...options }), ValidationError, JSON.stringify(options));
    }
  });

  test('an eviction reaches every cache of the namespace in the process, and no other namespace', async () => {
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const one = await open('memory', { namespace });
    const two = await open('memory', { namespace });
    const other = await open('memory');
    for (const cache of [one, two, other]) await cache.getOrLoad('k', async () => 'v');
    await one.evict('k');
    assert.equal((await two.getOrLoad('k', async () => 'v')).source, 'loader');
    assert.equal((await other.getOrLoad('k', async () => 'v')).source, 'memory');
  });
});

describe('redis mode only', { skip: redisService.skip }, () => {
  test('values carry the TTL in Redis, and keys are namespaced', async () => {
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const cache = await open('redis', { namespace, ttlSeconds: 42 });
    await cache.getOrLoad('tenant-1', async () => 'doc');
    const ttl = await admin!.pttl(`${namespace}:{tenant-1}:v`);
    // Set to 42 s (not unbounded, not in the wrong unit); a loose lower bound, so a slow run does not fail it.
    assert.ok(ttl > 30_000 && ttl <= 42_000, `PTTL ${ttl}`);
  });

  test('two deployments on one Redis, each with its key prefix (CACHE_KEY_PREFIX), neither read nor evict each other\'s values (before: one key space, a restored copy\'s menu served to the other)', async () => {
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const production = await open('redis', { namespace });
    const staging = await open('redis', { namespace, keyPrefix: 'staging:' });
    const again = await open('redis', { namespace, keyPrefix: 'staging:' });
    if (!namespaces.includes(`staging:${namespace}`)) namespaces.push(`staging:${namespace}`);
    await production.getOrLoad('tenant-1', async () => 'production menu');
    const read = await staging.getOrLoad('tenant-1', async () => 'staging menu');
    assert.deepEqual([read.source, read.body.toString()], ['loader', 'staging menu'], "staging does not read production's value");
    assert.equal(await admin!.exists(`staging:${namespace}:{tenant-1}:v`), 1, 'the prefix is in the key');
    assert.equal(await admin!.get(`${namespace}:{tenant-1}:v`).then((v) => v !== null), true, 'production keeps its own key');
    // Staging's eviction (a change there) leaves production's value; another staging process sees it.
    await staging.evict('tenant-1');
    assert.equal((await production.getOrLoad('tenant-1', () => Promise.reject(new Error('must not load')))).body.toString(), 'production menu');
    assert.equal((await again.getOrLoad('tenant-1', async () => 'staging menu 2')).source, 'loader', "a process of the same deployment shares the prefix's keys and evictions");
    assert.throws(() => createCache({ namespace, keyPrefix: 'has space', redis: null }), ValidationError);
  });

  test('a load that fails leaves no key in Redis (reads of unknown keys create nothing), and keeps a generation it did not create', async () => {
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const cache = await open('redis', { namespace });
    const notFound = new Error('no such restaurant');
    // Reads of keys that have nothing to load, as anonymous reads of unknown restaurants' menus are (404s).
    for (let i = 0; i < 30; i += 1) await assert.rejects(cache.getOrLoad(randomUUID(), () => Promise.reject(notFound)), notFound);
    const unknown = randomUUID();
    const concurrent = await Promise.allSettled(Array.from({ length: 10 }, () => cache.getOrLoad(unknown, () => Promise.reject(notFound))));
    assert.ok(concurrent.every((r) => r.status === 'rejected'));
    assert.deepEqual(await admin!.keys(`${namespace}:*`), [], 'a failed load left keys behind');

    // A generation that an eviction made is the fence of loads under way elsewhere: a failed load leaves it.
    await cache.evict('known');
    const generation = await admin!.get(`${namespace}:{known}:g`);
    assert.notEqual(generation, null);
    await assert.rejects(cache.getOrLoad('known', () => Promise.reject(notFound)), notFound);
    assert.equal(await admin!.get(`${namespace}:{known}:g`), generation);
    // And a failed load does not stop the next one from being stored.
    await assert.rejects(cache.getOrLoad('later', () => Promise.reject(notFound)), notFound);
    await cache.getOrLoad('later', async () => 'found');
    assert.equal((await cache.getOrLoad('later', async () => 'other')).source, 'redis');
  });

  test('a shared ioredis client is used and left open by close()', async () => {
    const shared = patientRedis(testEnv.redisUrl);
    await new Promise<void>((resolve) => shared.once('ready', () => resolve()));
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    namespaces.push(namespace);
    const cache = createCache({ namespace, redis: shared });
    await cache.ready();
    assert.equal(cache.mode, 'redis');
    await cache.getOrLoad('k', async () => 'v');
    assert.equal((await cache.getOrLoad('k', async () => 'v')).source, 'redis');
    await cache.close();
    assert.equal(await shared.ping(), 'PONG');
    await shared.quit();
  });

  test('without the broadcast, a cache on a shared client that is ready already is ready too', async () => {
    const shared = patientRedis(testEnv.redisUrl);
    await new Promise<void>((resolve) => shared.once('ready', () => resolve()));
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    namespaces.push(namespace);
    const cache = createCache({ namespace, redis: shared, broadcast: false });
    try {
      // The client emits no "ready" again: ready() used to wait for one until close().
      await within(cache.ready(), 10_000, 'the cache is ready');
    } finally {
      await cache.close();
      await shared.quit();
    }
  });

  // Degraded (Redis unusable to the reader): the reader cannot learn of an eviction, so it must not join a
  // load begun before its read, which may hold the document from before the eviction. The reader's load
  // is paused after its SELECT; its client is then (or already) closed, so it cannot read Redis.
  for (const [begun, evictor] of [
    ['with Redis', 'another instance'],
    ['degraded', 'another instance'],
    ['degraded', 'the reader itself'],
  ] as const) {
    test(`a degraded read after an eviction by ${evictor} does not join a load begun ${begun} before it`, async () => {
      const namespace = `t_${randomUUID().slice(0, 8)}`;
      const shared = patientRedis(testEnv.redisUrl);
      const reader = await open('redis', { namespace, client: shared, broadcast: false });
      const writer = await open('redis', { namespace });
      const cut = async () => {
        const ended = new Promise((resolve) => shared.once('end', resolve));
        shared.disconnect();
        await ended;
      };
      const tenant = randomUUID();
      await probe.writePrice(tenant, 700, []);
      if (begun === 'degraded') await cut();

      const paused = pausedRead(reader, probe, tenant);
      await paused.selected; // the paused load has read 700
      await probe.writePrice(tenant, 701, [evictor === 'the reader itself' ? reader : writer]);
      if (begun === 'with Redis') await cut();

      const calls = { n: 0 };
      const late = reader.getOrLoad(tenant, probe.loader(tenant, calls));
      paused.release(); // had the late read joined the paused load, it would now get 700
      assert.equal(priceOf(await late), 701);
      assert.equal(calls.n, 1);
      assert.equal(priceOf(await paused.result), 700, 'the paused load returns what it read to its own caller');
    });
  }

  test('degraded reads share loads: readers that arrive during a load wait for it, then share one load begun after they arrived', async () => {
    const shared = patientRedis(testEnv.redisUrl);
    const reader = await open('redis', { client: shared, broadcast: false });
    const ended = new Promise((resolve) => shared.once('end', resolve));
    shared.disconnect();
    await ended;
    const tenant = randomUUID();
    await probe.writePrice(tenant, 40, []);
    const calls = { n: 0 };
    const selected = deferred();
    const held = deferred();
    const loader = async () => {
      calls.n += 1;
      const price = await probe.readPrice(tenant);
      selected.resolve();
      await held.promise;
      return { body: JSON.stringify({ tenant, price }), etag: `"p${price}"` };
    };
    const first = reader.getOrLoad(tenant, loader);
    await selected.promise; // the first load has read 40 and is held
    const others = Array.from({ length: 20 }, () => reader.getOrLoad(tenant, loader));
    await probe.writePrice(tenant, 41, []); // after the 20 arrived: the load they share must see it
    assert.equal(calls.n, 1, 'the readers that arrived during the load each ran the loader');
    held.resolve();
    assert.equal(priceOf(await first), 40);
    const prices = (await Promise.all(others)).map(priceOf);
    assert.deepEqual(new Set(prices), new Set([41]), 'a reader got a load begun before it arrived');
    assert.equal(calls.n, 2, 'one load for the first reader, one shared by the 20 others');
  });

  test('the eviction broadcast reaches the other instances (remote evictions counted)', async () => {
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const registry = new client.Registry();
    const listener = await open('redis', { namespace, registry });
    const writer = await open('redis', { namespace });
    await listener.getOrLoad('k', async () => 'v');
    await writer.evict('k');
    const deadline = Date.now() + 30_000;
    while ((await metricValue(registry, 'brigade_cache_evictions_total', { origin: 'remote' })) < 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(await metricValue(registry, 'brigade_cache_evictions_total', { origin: 'remote' }), 1);
  });
});
