import assert from 'node:assert/strict';
import { afterEach, beforeEach, mock, test } from 'node:test';
import type { Redis } from 'ioredis';
import client from 'prom-client';
import { createCacheMetrics } from '../../../src/platform/cache/cacheMetrics.ts';
import { createRedisTier } from '../../../src/platform/cache/redisTier.ts';

/**
 * A stand-in for a ready ioredis client whose every MULTI waits for the test to answer it: the only
 * way to make two answers arrive in one socket read, in a chosen order. (The real Redis is in the
 * other cache tests; here only the order of the replies matters.)
 */
function answeredByTest() {
  const execs: Array<{ keys: string[]; resolve: (replies: unknown) => void; reject: (error: Error) => void }> = [];
  const redis = {
    status: 'ready',
    options: { commandTimeout: 250 },
    on: () => redis,
    off: () => redis,
    multi() {
      const keys: string[] = [];
      const tx = {
        set: (key: string) => (keys.push(key), tx),
        del: () => tx,
        publish: () => tx,
        exec: () => new Promise((resolve, reject) => execs.push({ keys, resolve, reject })),
      };
      return tx;
    },
  };
  return { redis: redis as unknown as Redis, execs };
}

const ok = [
  [null, 'OK'],
  [null, 1],
];
/** Lets every promise callback that is due run (timers are mocked, setImmediate is not). */
const settle = () => new Promise((resolve) => setImmediate(resolve));

beforeEach(() => mock.timers.enable({ apis: ['setTimeout'] }));
afterEach(() => mock.timers.reset());

test('an eviction refused while a background replay ends in the same read is still retried', async () => {
  const { redis, execs } = answeredByTest();
  const tier = createRedisTier({
    redis,
    owned: false,
    namespace: 'n',
    ttlMs: 60_000,
    instanceId: 'i',
    metrics: createCacheMetrics(new client.Registry(), 'n'),
    report: () => undefined,
    broadcast: false,
    onRemoteEvict: () => undefined,
    evictWaitMs: 1000,
  });
  // Redis refuses an eviction of a (out of memory): queued, the background retry armed.
  const first = tier.evict(['a']);
  execs.shift()!.reject(new Error('OOM command not allowed'));
  await first;
  assert.equal(tier.usable(), false);
  // The retry's drain sends a; meanwhile an eviction of b is sent directly.
  mock.timers.tick(50);
  const drain = execs.shift()!;
  assert.deepEqual(drain.keys, ['n:{a}:g']);
  const second = tier.evict(['b']);
  const direct = execs.shift()!;
  // Both answers in one read: the drain's succeeds (it finds the queue empty and ends), b's is refused.
  drain.resolve(ok);
  direct.reject(new Error('OOM command not allowed'));
  await second;
  await settle();
  assert.equal(tier.usable(), false, 'b is queued');
  // Whatever the backoff, within its cap (2 s) a replay must send b.
  mock.timers.tick(2000);
  await settle();
  assert.deepEqual(
    execs.map((e) => e.keys),
    [['n:{b}:g']],
    'the queued eviction of b was never retried: this instance would not read Redis again, and the others keep the old value until its TTL',
  );
  execs.shift()!.resolve(ok);
  await settle();
  assert.equal(tier.usable(), true);
  await tier.close();
});
