import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workersOf } from '../../src/cli/runUntilSignal.ts';
import { heldConnections } from '../../src/composition/heldConnections.ts';
import { SERVICES, SERVICE_NAMES } from '../../src/composition/services.ts';
import { checkPoolSize, ConfigError, loadConfig, minimumPoolSize } from '../../src/platform/config/index.ts';

const config = (env: Record<string, string> = {}) => loadConfig({ DATABASE_URL: 'postgres://db/brigade', ...env }, { services: SERVICE_NAMES });
const everything = { http: true, services: SERVICES, workers: workersOf(SERVICES) };
const kept = (held: ReturnType<typeof heldConnections>) => Object.fromEntries(held.map((h) => [h.database, h.holders.reduce((sum, x) => sum + x.count, 0)]));

test("brigade start's workers keep 11 connections of the one database (10 with NATS, one less with Redis), so DATABASE_POOL_SIZE must be at least 13", () => {
  const held = heldConnections(config(), everything);
  // 5 outbox relays and 3 projections (leader locks), the PostgreSQL transport's LISTEN, the order views' LISTEN,
  // the in-process cache's eviction LISTEN.
  assert.deepEqual(kept(held), { main: 11 });
  assert.equal(minimumPoolSize(held), 13);
  assert.deepEqual(kept(heldConnections(config({ NATS_URL: 'nats://bus:4222' }), everything)), { main: 10 });
  assert.deepEqual(kept(heldConnections(config({ REDIS_URL: 'redis://cache:6379' }), everything)), { main: 10 });
  assert.deepEqual(kept(heldConnections(config({ CACHE_TTL_SECONDS: '0' }), everything)), { main: 10 });
  // Workers only (brigade worker): no LISTEN of HTTP's; HTTP only (brigade serve): the views' and the cache's.
  assert.deepEqual(kept(heldConnections(config(), { ...everything, http: false })), { main: 9 });
  assert.deepEqual(kept(heldConnections(config(), { ...everything, workers: [] })), { main: 2 });
  assert.deepEqual(kept(heldConnections(config(), { ...everything, workers: [], services: SERVICES.filter((s) => s.name === 'menu') })), { main: 1 });
});

test('a DATABASE_POOL_SIZE below the minimum is refused naming the variable, the minimum and what holds the connections; the minimum itself passes', () => {
  const held = heldConnections(config(), everything);
  assert.doesNotThrow(() => checkPoolSize(config({ DATABASE_POOL_SIZE: '13' }), held));
  const error = (() => {
    try {
      checkPoolSize(config({ DATABASE_POOL_SIZE: '8' }), held);
    } catch (e) {
      return e;
    }
    return null;
  })();
  assert.ok(error instanceof ConfigError);
  assert.deepEqual(error.issues.map((i) => [i.variable, i.got]), [['DATABASE_POOL_SIZE', '8']]);
  assert.match(error.message, /DATABASE_POOL_SIZE: expected at least 13: in the main database this process keeps 11 connection\(s\) for as long as it runs/);
  assert.match(error.message, /5 outbox relays \(leader lock\), 3 projections \(leader lock\), 1 bus LISTEN .*, 1 cache evictions LISTEN/);
  assert.match(error.message, /Set these variables to valid values/);
});

test('with a database per service, each pool keeps its own services\' share, and the fullest decides', () => {
  const held = heldConnections(config({ ORDERING_DATABASE_URL: 'postgres://orders/ordering', PLATFORM_DATABASE_URL: 'postgres://db/brigade' }), everything);
  // Ordering's relay, its 3 projections and the views' LISTEN; the rest (PLATFORM_DATABASE_URL is DATABASE_URL: one pool),
  // the cache's eviction LISTEN among them.
  assert.deepEqual(kept(held), { ordering: 5, main: 6 });
  assert.equal(minimumPoolSize(held), 8);
});
