import assert from 'node:assert/strict';
import { test } from 'node:test';
import { workersOf } from '../../src/cli/runUntilSignal.ts';
import { heldConnections } from '../../src/composition/heldConnections.ts';
import { SERVICES, SERVICE_NAMES } from '../../src/composition/services.ts';
import { checkPoolSize, ConfigError, loadConfig, minimumPoolSize } from '../../src/platform/config/index.ts';

const config = (env: Record<string, string> = {}) => loadConfig({ DATABASE_URL: 'postgres://db/brigade', ...env }, { services: SERVICE_NAMES });
const everything = { http: true, services: SERVICES, workers: workersOf(SERVICES) };
const kept = (held: ReturnType<typeof heldConnections>) => Object.fromEntries(held.map((h) => [h.database, h.holders.reduce((sum, x) => sum + x.count, 0)]));

test("brigade start's workers keep 10 connections of the one database (9 with NATS), so DATABASE_POOL_SIZE must be at least 12", () => {
  const held = heldConnections(config(), everything);
  // 5 outbox relays and 3 projections (leader locks), the PostgreSQL transport's LISTEN, the order views' LISTEN.
  assert.deepEqual(kept(held), { main: 10 });
  assert.equal(minimumPoolSize(held), 12);
  assert.deepEqual(kept(heldConnections(config({ NATS_URL: 'nats://bus:4222' }), everything)), { main: 9 });
  // Workers only (brigade worker): no views LISTEN; HTTP only (brigade serve): none but the views'.
  assert.deepEqual(kept(heldConnections(config(), { ...everything, http: false })), { main: 9 });
  assert.deepEqual(kept(heldConnections(config(), { ...everything, workers: [] })), { main: 1 });
});

test('a DATABASE_POOL_SIZE below the minimum is refused naming the variable, the minimum and what holds the connections; the minimum itself passes', () => {
  const held = heldConnections(config(), everything);
  assert.doesNotThrow(() => checkPoolSize(config({ DATABASE_POOL_SIZE: '12' }), held));
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
  assert.match(error.message, /DATABASE_POOL_SIZE: expected at least 12: in the main database this process keeps 10 connection\(s\) for as long as it runs/);
  assert.match(error.message, /5 outbox relays \(leader lock\), 3 projections \(leader lock\), 1 bus LISTEN/);
  assert.match(error.message, /Set these variables to valid values/);
});

test('with a database per service, each pool keeps its own services\' share, and the fullest decides', () => {
  const held = heldConnections(config({ ORDERING_DATABASE_URL: 'postgres://orders/ordering', PLATFORM_DATABASE_URL: 'postgres://db/brigade' }), everything);
  // Ordering's relay, its 3 projections and the views' LISTEN; the rest (PLATFORM_DATABASE_URL is DATABASE_URL: one pool).
  assert.deepEqual(kept(held), { ordering: 5, main: 5 });
  assert.equal(minimumPoolSize(held), 7);
});
