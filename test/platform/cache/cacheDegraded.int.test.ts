import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { before, describe, mock, test } from 'node:test';
import { Redis } from 'ioredis';
import client from 'prom-client';
import { createCache, createCacheRedis, type Cache, type CacheErrorContext } from '../../../src/platform/cache/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { requireCommand } from '../../support/services.ts';
import { freePort } from '../../../src/platform/db/localPorts.ts';
import { within } from '../../support/eventually.ts';
import { testEnv } from '../../support/env.ts';
import { silentProxy } from '../../support/silentProxy.ts';
import { createProbe, metricValue, pausedRead, priceOf, type Probe } from './probe.ts';

async function until(what: string, check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

// Locally a missing redis-server skips this suite; in CI it fails here (requireCommand throws).
const redisServer = await requireCommand('redis-server', ['--version']);

describe('degraded mode: Redis stopped, then back', { skip: redisServer.skip }, () => {
  const database = useTestDatabase();
  let probe: Probe;
  let dir: string;
  let port: number;
  let server: ChildProcess | null = null;

  const startServer = async () => {
    server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--dbfilename', 'dump.rdb', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const probeClient = new Redis({ port, lazyConnect: true, retryStrategy: () => 50, maxRetriesPerRequest: 0 });
    probeClient.on('error', () => undefined);
    await until('redis-server to answer', async () => (await probeClient.ping().catch(() => null)) === 'PONG');
    probeClient.disconnect();
  };
  /** SHUTDOWN SAVE: the data survives the restart, as with a persistent Redis. */
  const stopServer = async () => {
    const running = server!;
    const exited = new Promise((resolve) => running.once('exit', resolve));
    const admin = new Redis({ port, maxRetriesPerRequest: 0, retryStrategy: () => null });
    admin.on('error', () => undefined);
    await admin.call('SHUTDOWN', 'SAVE').catch(() => undefined);
    admin.disconnect();
    await exited;
    server = null;
  };

  before(async () => {
    probe = await createProbe(database.db.url, { setup: true });
    database.defer(() => probe.close());
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-cache-redis-'));
    // Runs before the probe closes (clean-ups run last-first).
    database.defer(async () => {
      if (server !== null) await stopServer();
      await fs.rm(dir, { recursive: true, force: true });
    });
    port = testEnv.redisServerPort ?? (await freePort());
    await startServer();
  });

  test('reads are served while Redis is down, an eviction made then is replayed, and the cache recovers', async () => {
    const registry = new client.Registry();
    const errors: string[] = [];
    const cache = createCache({ namespace: `t_${randomUUID().slice(0, 8)}`, redis: `redis://127.0.0.1:${port}`, registry, onError: (_e, ctx) => errors.push(ctx.op) });
    try {
      await cache.ready();
      const tenant = randomUUID();
      await probe.writePrice(tenant, 300, [cache]);
      assert.equal(priceOf(await cache.getOrLoad(tenant, probe.loader(tenant))), 300);
      assert.equal((await cache.getOrLoad(tenant, probe.loader(tenant))).source, 'redis');

      await stopServer(); // saved to dump.rdb with price 300 cached
      await until('the cache to notice', async () => (await metricValue(registry, 'brigade_cache_redis_up')) === 0);

      // Down: every read is answered, by the loader, and a change is still seen at once.
      for (let i = 0; i < 20; i += 1) {
        const entry = await cache.getOrLoad(tenant, probe.loader(tenant));
        assert.equal(entry.source, 'loader');
        assert.equal(priceOf(entry), 300);
      }
      await probe.writePrice(tenant, 301, [cache]); // its eviction cannot reach Redis: queued
      assert.equal(priceOf(await cache.getOrLoad(tenant, probe.loader(tenant))), 301);
      assert.ok(errors.includes('connection') && errors.includes('evict'), `reported: ${errors.join(', ')}`);
      assert.ok((await metricValue(registry, 'brigade_cache_fallbacks_total')) >= 21);

      // Back, with the old document (300) still in its saved data: the queued eviction must be
      // replayed before Redis is read again, so no read returns 300.
      await startServer();
      await until('the cache to recover', async () => {
        const entry = await cache.getOrLoad(tenant, probe.loader(tenant));
        assert.equal(priceOf(entry), 301, 'a read after recovery returned the price evicted while Redis was down');
        return entry.source === 'redis';
      });
      assert.equal(await metricValue(registry, 'brigade_cache_redis_up'), 1);
    } finally {
      await cache.close();
    }
  });

  test('a Redis that stays connected but stops answering is taken for down after a few timeouts: reads stop asking it until a PING is answered', async () => {
    const registry = new client.Registry();
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const cache = createCache({ namespace, redis: `redis://127.0.0.1:${port}`, registry });
    const running = server!;
    const asked = async () => (await metricValue(registry, 'brigade_cache_errors_total', { op: 'get' })) + (await metricValue(registry, 'brigade_cache_errors_total', { op: 'load' }));
    try {
      await cache.ready();
      const tenant = randomUUID();
      await probe.writePrice(tenant, 900, []);
      await until('a read answered from Redis', async () => (await cache.getOrLoad(tenant, probe.loader(tenant))).source === 'redis');
      const trips = await metricValue(registry, 'brigade_cache_errors_total', { op: 'connection' });

      running.kill('SIGSTOP'); // the TCP connection stays open: ioredis stays 'ready'
      try {
        // Each read's command times out; after a few in a row the breaker opens.
        let reads = 0;
        while ((await metricValue(registry, 'brigade_cache_redis_up')) === 1) {
          assert.ok(reads < 10, `the breaker did not open after ${reads} reads whose Redis command timed out`);
          const entry = await cache.getOrLoad(tenant, probe.loader(tenant));
          assert.deepEqual([entry.source, priceOf(entry)], ['loader', 900]);
          reads += 1;
        }
        assert.ok((await metricValue(registry, 'brigade_cache_errors_total', { op: 'connection' })) > trips, 'the open breaker was reported');

        // Open: reads go to the loader without asking Redis (no more timed-out commands), a change is seen,
        // and its eviction is queued, not sent.
        const before = { asked: await asked(), fallbacks: await metricValue(registry, 'brigade_cache_fallbacks_total') };
        await probe.writePrice(tenant, 901, [cache]);
        assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 1);
        for (let i = 0; i < 20; i += 1) {
          const entry = await cache.getOrLoad(tenant, probe.loader(tenant));
          assert.deepEqual([entry.source, priceOf(entry)], ['loader', 901]);
        }
        assert.equal(await asked(), before.asked, 'a read sent a command to the hung Redis');
        assert.equal((await metricValue(registry, 'brigade_cache_fallbacks_total')) - before.fallbacks, 20);
        assert.equal(await metricValue(registry, 'brigade_cache_redis_up'), 0);
      } finally {
        running.kill('SIGCONT');
      }

      // Answering again (it still holds 900): a PING closes the breaker, the queued eviction is replayed
      // first, and reads use Redis again without ever returning 900.
      await until('the breaker to close', async () => (await metricValue(registry, 'brigade_cache_redis_up')) === 1, 30_000);
      await until(
        'a read answered from Redis',
        async () => {
          const entry = await cache.getOrLoad(tenant, probe.loader(tenant));
          assert.equal(priceOf(entry), 901, 'a read after the breaker closed returned the price evicted while it was open');
          return entry.source === 'redis';
        },
        30_000,
      );
      assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 0);
    } finally {
      running.kill('SIGCONT');
      await cache.close();
    }
  });

  test('a Redis that answers every command, slowly, is taken for down: reads go to the loader until a PING answers in time', async () => {
    const proxy = await silentProxy(`redis://127.0.0.1:${port}`);
    const registry = new client.Registry();
    const errors: string[] = [];
    const cache = createCache({ namespace: `t_${randomUUID().slice(0, 8)}`, redis: proxy.url, registry, onError: (error) => errors.push(String(error)) });
    try {
      await cache.ready();
      const tenant = randomUUID();
      await probe.writePrice(tenant, 700, []);
      await until('a read answered from Redis', async () => (await cache.getOrLoad(tenant, probe.loader(tenant))).source === 'redis');

      // Every answer 150 ms late: inside the 250 ms command timeout, so no command times out, but 100 times
      // what the loader takes here.
      proxy.delayAnswers(150);
      let reads = 0;
      while ((await metricValue(registry, 'brigade_cache_redis_up')) === 1) {
        assert.ok(reads < 10, `the breaker did not open after ${reads} reads that Redis answered slowly`);
        assert.equal(priceOf(await cache.getOrLoad(tenant, probe.loader(tenant))), 700);
        reads += 1;
      }
      assert.ok(
        errors.some((e) => e.includes('nor a PING, within 100 ms although connected')),
        `the open breaker was reported, saying why: ${errors.join(' | ')}`,
      );
      for (let i = 0; i < 10; i += 1) assert.equal((await cache.getOrLoad(tenant, probe.loader(tenant))).source, 'loader');

      // Still slow: a PING answered late keeps it open.
      await new Promise((r) => setTimeout(r, 1_000));
      assert.equal(await metricValue(registry, 'brigade_cache_redis_up'), 0, 'a PING answered in 150 ms closed the breaker');

      proxy.delayAnswers(0);
      await until('the breaker to close', async () => (await metricValue(registry, 'brigade_cache_redis_up')) === 1, 30_000);
      await until('a read answered from Redis', async () => (await cache.getOrLoad(tenant, probe.loader(tenant))).source === 'redis');
    } finally {
      await cache.close();
      await proxy.close();
    }
  });

  /** Runs one command on the private Redis (CONFIG SET and the like). */
  const command = async (...args: string[]) => {
    const admin = new Redis({ port, maxRetriesPerRequest: 0 });
    try {
      return await admin.call(args[0]!, ...args.slice(1));
    } finally {
      admin.disconnect();
    }
  };
  /** Two instances of one namespace, each on a client of its own: the writer, and a reader without the broadcast. */
  const twoInstances = (onError?: (error: unknown, context: CacheErrorContext) => void) => {
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const registry = new client.Registry();
    const writer = createCache({ namespace, redis: `redis://127.0.0.1:${port}`, registry, onError });
    const reader = createCache({ namespace, redis: `redis://127.0.0.1:${port}`, registry: new client.Registry(), broadcast: false });
    return { writer, reader, registry, namespace };
  };
  /** Reads on `cache` until it answers from Redis; returns that price. */
  const priceInRedis = async (cache: Cache, tenant: string) => {
    let entry = await cache.getOrLoad(tenant, probe.loader(tenant));
    await until('a read answered from Redis', async () => (entry = await cache.getOrLoad(tenant, probe.loader(tenant))).source === 'redis');
    return priceOf(entry);
  };

  test('an eviction queued while Redis was down reaches it once Redis is back, with no read on the evicting instance', async () => {
    const { writer, reader, registry } = twoInstances();
    try {
      await Promise.all([writer.ready(), reader.ready()]);
      const tenant = randomUUID();
      await probe.writePrice(tenant, 500, []);
      assert.equal(await priceInRedis(reader, tenant), 500);

      await stopServer(); // saved with 500 cached
      await until('the writer to notice', async () => (await metricValue(registry, 'brigade_cache_redis_up')) === 0);
      await probe.writePrice(tenant, 501, [writer]); // queued
      assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 1);
      await startServer();

      // The writer never reads again: its queued eviction must reach Redis by itself.
      await until('the queued eviction to be replayed', async () => (await metricValue(registry, 'brigade_cache_evictions_replayed_total')) === 1);
      assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 0);
      assert.equal(await priceInRedis(reader, tenant), 501);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
      if (server === null) await startServer(); // for the next test, had this one failed while it was down
    }
  });

  test('an eviction that a connected Redis refused is retried in the background until it lands', async () => {
    const errors: string[] = [];
    const { writer, reader, registry } = twoInstances((_e, ctx) => errors.push(ctx.op));
    try {
      await Promise.all([writer.ready(), reader.ready()]);
      const tenant = randomUUID();
      await probe.writePrice(tenant, 600, []);
      assert.equal(await priceInRedis(reader, tenant), 600);

      // Out of memory: Redis stays connected and answers reads, but refuses the eviction's writes.
      await command('CONFIG', 'SET', 'maxmemory', '1');
      try {
        await probe.writePrice(tenant, 601, [writer]);
        assert.ok(errors.includes('evict'), `reported: ${errors.join(', ')}`);
        assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 1);
        assert.equal(await metricValue(registry, 'brigade_cache_redis_up'), 1, 'no reconnection will trigger the replay');
      } finally {
        await command('CONFIG', 'SET', 'maxmemory', '0');
      }
      // Neither a reconnection nor a read on the writer: the retry alone must land it. (The reader sees 601
      // before that: the refused eviction deleted the value with a plain DEL, see the next test.)
      await until('the queued eviction to be replayed', async () => (await metricValue(registry, 'brigade_cache_evictions_replayed_total')) === 1);
      assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 0);
      assert.equal(await priceInRedis(reader, tenant), 601);
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  test('an eviction that Redis refuses for want of memory still deletes the value at once and broadcasts: another instance does not serve the old one meanwhile', async () => {
    const { writer, reader, registry, namespace } = twoInstances();
    const listenerRegistry = new client.Registry();
    const listener = createCache({ namespace, redis: `redis://127.0.0.1:${port}`, registry: listenerRegistry });
    try {
      await Promise.all([writer.ready(), reader.ready(), listener.ready()]);
      const tenant = randomUUID();
      await probe.writePrice(tenant, 650, []);
      assert.equal(await priceInRedis(reader, tenant), 650);

      // Redis's default policy: over maxmemory it refuses writes, and MULTI refuses every command queued
      // (EXECABORT), but a plain DEL or PUBLISH is still taken.
      await command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      await command('CONFIG', 'SET', 'maxmemory', '1');
      try {
        await probe.writePrice(tenant, 651, [writer]);
        assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 1, 'the whole eviction stays queued for the replay');
        const entry = await reader.getOrLoad(tenant, probe.loader(tenant));
        assert.equal(priceOf(entry), 651, 'another instance served the evicted price from Redis while it was out of memory');
        assert.equal(entry.source, 'loader', 'out of memory: nothing can be stored');
        await until('the broadcast to reach the other instance', async () => (await metricValue(listenerRegistry, 'brigade_cache_evictions_total', { origin: 'remote' })) === 1);
      } finally {
        await command('CONFIG', 'SET', 'maxmemory', '0');
      }
      // Memory back: the queued eviction lands and reads use Redis again.
      await until('the queued eviction to be replayed', async () => (await metricValue(registry, 'brigade_cache_evictions_queued')) === 0);
      assert.equal(await priceInRedis(reader, tenant), 651);
    } finally {
      await Promise.all([writer.close(), reader.close(), listener.close()]);
    }
  });

  test('a load begun before an eviction that Redis refused for want of memory cannot store the old value once memory frees, before the replay', async () => {
    const { writer, reader, registry } = twoInstances();
    try {
      await Promise.all([writer.ready(), reader.ready()]);
      const tenant = randomUUID();
      await probe.writePrice(tenant, 700, []);
      // The reader's load has its generation token and has read 700; it is held there.
      const read = pausedRead(reader, probe, tenant);
      await read.selected;

      await command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      await command('CONFIG', 'SET', 'maxmemory', '1');
      // The writer's background retry must not replace the token first: its timer is mocked and never
      // fires, so what the eviction did straight away is all that stands between the load and Redis.
      mock.timers.enable({ apis: ['setTimeout'] });
      try {
        try {
          await probe.writePrice(tenant, 701, [writer]);
        } finally {
          // Memory frees (the eviction's own DEL may be what frees it).
          await command('CONFIG', 'SET', 'maxmemory', '0');
        }
        assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 1, 'not replayed yet');
      } finally {
        mock.timers.reset();
      }
      read.release();
      assert.equal(priceOf(await read.result), 700); // began before the change: its caller may get either
      const after = await reader.getOrLoad(tenant, probe.loader(tenant));
      assert.equal(priceOf(after), 701, 'a load begun before the eviction stored the old price once memory freed');
      assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 1, 'still not replayed: the fallback alone held the load off');
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  test('warns once ready when Redis has a maxmemory with the noeviction policy, and not otherwise', async () => {
    const configured = async (maxmemory: string) => {
      await command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
      await command('CONFIG', 'SET', 'maxmemory', maxmemory);
      const warnings: string[] = [];
      const cache = createCache({
        namespace: `t_${randomUUID().slice(0, 8)}`,
        redis: `redis://127.0.0.1:${port}`,
        onError: (error, context) => context.op === 'config' && warnings.push(String(error)),
      });
      try {
        await cache.ready();
        // On the same connection as the check sent at 'ready': its answer has been handled by then.
        await cache.getOrLoad(randomUUID(), async () => ({ body: '{}' }));
        return warnings;
      } finally {
        await cache.close();
        await command('CONFIG', 'SET', 'maxmemory', '0');
      }
    };
    const warned = await configured('512mb');
    assert.equal(warned.length, 1, `warnings: ${warned.join(' | ')}`);
    assert.match(warned[0]!, /noeviction/);
    assert.deepEqual(await configured('0'), []);
  });

  test('close replays the evictions still queued when Redis takes them, and reports those it cannot replay', async () => {
    const tenant = randomUUID();
    await probe.writePrice(tenant, 800, []);
    {
      const { writer, reader, registry } = twoInstances();
      try {
        await Promise.all([writer.ready(), reader.ready()]);
        assert.equal(await priceInRedis(reader, tenant), 800);
        await command('CONFIG', 'SET', 'maxmemory', '1');
        // The writer's background retry (50 ms) must not replay the eviction first: its timer is
        // mocked and never fires, so only close() can land it.
        mock.timers.enable({ apis: ['setTimeout'] });
        try {
          try {
            await probe.writePrice(tenant, 801, [writer]); // queued
          } finally {
            await command('CONFIG', 'SET', 'maxmemory', '0');
          }
          assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 1);
          await writer.close(); // the queued eviction is not lost with the instance
        } finally {
          mock.timers.reset();
        }
        assert.equal(await metricValue(registry, 'brigade_cache_evictions_replayed_total'), 1);
        assert.equal(await priceInRedis(reader, tenant), 801);
      } finally {
        await Promise.all([writer.close(), reader.close()]);
      }
    }
    {
      const closing: Array<readonly string[] | undefined> = [];
      const { writer, reader } = twoInstances((_e, ctx) => ctx.op === 'close' && closing.push(ctx.keys));
      await Promise.all([writer.ready(), reader.ready()]);
      await stopServer();
      try {
        await probe.writePrice(tenant, 802, [writer]); // queued, and Redis does not come back before the close
        await within(writer.close(), 10_000, 'close with an eviction queued and Redis down');
        assert.deepEqual(closing, [[tenant]]);
      } finally {
        await Promise.all([writer.close(), reader.close()]);
        await startServer();
      }
    }
  });

  /** Once both are ready, a new tenant with `price`, which `reader` reads from Redis; returns the tenant. */
  const cachedFor = async (writer: Cache, reader: Cache, price: number) => {
    await Promise.all([writer.ready(), reader.ready()]);
    const tenant = randomUUID();
    await probe.writePrice(tenant, price, []);
    assert.equal(await priceInRedis(reader, tenant), price);
    return tenant;
  };
  /** Reads on `cache` until it answers from Redis, asserting the price of every answer from Redis. */
  const readsFromRedis = async (cache: Cache, tenant: string, price: number, message: string) => {
    await until('a read answered from Redis', async () => {
      const entry = await cache.getOrLoad(tenant, probe.loader(tenant));
      if (entry.source === 'redis') assert.equal(priceOf(entry), price, message);
      return entry.source === 'redis';
    });
  };
  /**
   * A writer whose client reconnects `writerBackoffMs` after its connection drops, and a reader (no
   * broadcast) whose client is back after 10 ms: after a drop of every connection the reader reads Redis
   * again while the writer is still reconnecting. Both clients are the test's (quit by `close`).
   */
  const reconnectingPair = (writerBackoffMs: number, options: { evictWaitMs?: number; onError?: (error: unknown, context: CacheErrorContext) => void } = {}) => {
    const url = `redis://127.0.0.1:${port}`;
    const namespace = `t_${randomUUID().slice(0, 8)}`;
    const registry = new client.Registry();
    const writerRedis = createCacheRedis(url, { retryStrategy: () => writerBackoffMs });
    const readerRedis = createCacheRedis(url, { retryStrategy: () => 10 });
    const writer = createCache({ namespace, redis: writerRedis, registry, ...options });
    const reader = createCache({ namespace, redis: readerRedis, registry: new client.Registry(), broadcast: false });
    const close = async () => {
      await Promise.all([writer.close(), reader.close()]);
      writerRedis.disconnect();
      readerRedis.disconnect();
    };
    /**
     * Caches `price` for a new tenant (the reader reads it from Redis), then drops every client connection
     * of the private Redis (the admin connection that asks is kept) and waits for the writer to notice.
     */
    const cachedThenDropped = async (price: number) => {
      const tenant = await cachedFor(writer, reader, price);
      await command('CLIENT', 'KILL', 'TYPE', 'normal');
      await until('the writer to lose its connection', () => writerRedis.status !== 'ready');
      return tenant;
    };
    return { writer, reader, registry, cachedThenDropped, close };
  };
  /** How long `write` took, in milliseconds. */
  const timed = async (write: Promise<void>) => {
    const started = performance.now();
    await write;
    return performance.now() - started;
  };

  test('an eviction made while the writer reconnects waits for it to land: an instance that reconnected first does not serve the old value after the write returned', async () => {
    const { writer, reader, registry, cachedThenDropped, close } = reconnectingPair(300);
    try {
      const tenant = await cachedThenDropped(1000);
      const took = await timed(probe.writePrice(tenant, 1001, [writer])); // the writer is back in 300 ms, the reader in 10 ms
      assert.ok(took < 1000, `the write waited ${Math.round(took)} ms, past the 1 s bound`);
      // The write has returned: the reader, which reconnected long before the writer, must not read 1000.
      await readsFromRedis(reader, tenant, 1001, 'another instance served the old price from Redis after the write returned, while the writer was reconnecting');
      assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 0);
      assert.equal(await metricValue(registry, 'brigade_cache_errors_total', { op: 'evict' }), 0, 'an eviction that landed within the wait is no error');
    } finally {
      await close();
    }
  });

  test('an eviction made while the writer reconnects for longer than the bound is queued after the bound, and the next writes of that outage do not wait', async () => {
    const errors: string[] = [];
    const { writer, reader, registry, cachedThenDropped, close } = reconnectingPair(3000, { evictWaitMs: 800, onError: (_e, ctx) => errors.push(ctx.op) });
    try {
      const tenant = await cachedThenDropped(1100);
      let took = await timed(probe.writePrice(tenant, 1101, [writer]));
      assert.ok(took >= 790 && took < 2500, `the first write of the outage took ${Math.round(took)} ms, not the 800 ms bound`);
      assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 1);
      assert.ok(errors.includes('evict'), `reported: ${errors.join(', ')}`);

      // The outage has outlasted one wait: a real outage, and writes no longer pay the bound each.
      took = await timed(probe.writePrice(tenant, 1102, [writer]));
      assert.ok(took < 600, `a later write of the same outage waited ${Math.round(took)} ms`);

      // The writer is back after 3 s and replays: reads see the last price.
      await until('the queued eviction to be replayed', async () => (await metricValue(registry, 'brigade_cache_evictions_queued')) === 0);
      await readsFromRedis(reader, tenant, 1102, 'the replayed eviction did not reach the reader');
    } finally {
      await close();
    }
  });

  test('a Redis that refuses PUBLISH (an ACL) still takes the eviction: it is not queued, the writer keeps using Redis, and the refusal is counted as a broadcast error naming PUBLISH', async () => {
    const reports: Array<{ op: string; message: string }> = [];
    const { writer, reader, registry } = twoInstances((error, ctx) => reports.push({ op: ctx.op, message: String(error) }));
    try {
      const tenant = await cachedFor(writer, reader, 1200);

      await command('ACL', 'SETUSER', 'default', '-publish');
      try {
        await probe.writePrice(tenant, 1201, [writer]);
        assert.equal(await metricValue(registry, 'brigade_cache_evictions_queued'), 0, 'the eviction stayed queued because its broadcast was refused');
        assert.equal(await metricValue(registry, 'brigade_cache_errors_total', { op: 'evict' }), 0);
        assert.equal(await metricValue(registry, 'brigade_cache_errors_total', { op: 'broadcast' }), 1);
        const broadcast = reports.find((r) => r.op === 'broadcast');
        assert.match(broadcast?.message ?? '', /PUBLISH/, `reported: ${JSON.stringify(reports)}`);
        await readsFromRedis(reader, tenant, 1201, 'the reader served the evicted price');
        // The writer has nothing queued: it reads Redis (before the fix it read the database for ever).
        await readsFromRedis(writer, tenant, 1201, 'the writer served the evicted price');

        // Out of memory too: the transaction is refused, the plain DEL lands, and the report says so; only
        // the broadcast was refused, not the DEL.
        await command('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
        await command('CONFIG', 'SET', 'maxmemory', '1');
        try {
          await probe.writePrice(tenant, 1202, [writer]);
        } finally {
          await command('CONFIG', 'SET', 'maxmemory', '0');
        }
        const evict = reports.find((r) => r.op === 'evict');
        assert.match(evict?.message ?? '', /deleted with a plain DEL/, `reported: ${JSON.stringify(reports)}`);
        assert.doesNotMatch(evict?.message ?? '', /plain DEL too|and the eviction broadcast/);
        assert.ok((await metricValue(registry, 'brigade_cache_errors_total', { op: 'broadcast' })) >= 2, 'the plain DEL path broadcasts too, and its refusal is counted');
        // Memory back, PUBLISH still refused: the queued eviction lands all the same.
        await until('the queued eviction to be replayed', async () => (await metricValue(registry, 'brigade_cache_evictions_queued')) === 0);
        await readsFromRedis(writer, tenant, 1202, 'the writer served the evicted price after the replay');
      } finally {
        await command('ACL', 'SETUSER', 'default', '+publish');
      }
    } finally {
      await Promise.all([writer.close(), reader.close()]);
    }
  });

  test('a cache pointed at a port where nothing listens serves every read from the loader and closes cleanly', async () => {
    const cache = createCache({ namespace: 'dead', redis: `redis://127.0.0.1:${await freePort()}` });
    const tenant = randomUUID();
    await probe.writePrice(tenant, 42, [cache]);
    const entries = await Promise.all(Array.from({ length: 10 }, () => cache.getOrLoad(tenant, probe.loader(tenant))));
    assert.ok(entries.every((e) => e.source === 'loader' && priceOf(e) === 42));
    await cache.close();
  });
});
