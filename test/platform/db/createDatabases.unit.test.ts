import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDatabases } from '../../../src/platform/db/createDatabases.ts';

// Pools are made without connecting: these tests read only the options each pool was given.

test("a replica URL that is also the main database's or a service's does not give that pool the replica's timeouts", async () => {
  // loadConfig refuses such a DATABASE_REPLICA_URL; a registry made some other way still keeps the
  // primary's pool a primary's. Before, the replica was checked first: the main pool got a 2 s connect
  // timeout and a 10 s query timeout instead of the acquire timeout, and was labelled `replica`.
  const main = 'postgres://app@main.example/brigade';
  const ordering = 'postgres://app@orders.example/brigade';
  const asMain = createDatabases({ url: main, replicaUrl: main, serviceUrls: { ordering }, poolSize: 1, acquireTimeoutMs: 5000 });
  const asService = createDatabases({ url: main, replicaUrl: ordering, serviceUrls: { ordering }, poolSize: 1, acquireTimeoutMs: 5000 });
  try {
    for (const [databases, service] of [
      [asMain, 'platform'],
      [asService, 'ordering'],
    ] as const) {
      const pool = databases.poolFor(service);
      const options = pool.options as typeof pool.options & { query_timeout?: number };
      assert.deepEqual([options.connectionTimeoutMillis, options.query_timeout], [5000, undefined], service);
      assert.notEqual(databases.labelOf(pool), 'replica', service);
    }
    assert.deepEqual(asMain.list().map((e) => e.label), ['main']);
  } finally {
    await Promise.all([asMain.close(), asService.close()]);
  }
});

test('a replica of its own gets the short timeouts, the main pool the acquire timeout', async () => {
  const databases = createDatabases({ url: 'postgres://app@main.example/brigade', replicaUrl: 'postgres://app@standby.example/brigade', poolSize: 1, acquireTimeoutMs: 5000 });
  try {
    const replica = databases.poolForUrl('postgres://app@standby.example/brigade');
    const main = databases.poolFor('platform');
    const timeouts = (pool: typeof main) => {
      const options = pool.options as typeof pool.options & { query_timeout?: number };
      return [options.connectionTimeoutMillis, options.query_timeout];
    };
    assert.deepEqual([timeouts(main), timeouts(replica)], [[5000, undefined], [2000, 10_000]]);
    assert.deepEqual([databases.labelOf(main), databases.labelOf(replica)], ['main', 'replica']);
  } finally {
    await databases.close();
  }
});

test("a restaurant's dedicated database gets the configured acquire timeout (DATABASE_ACQUIRE_TIMEOUT_MS), not a fixed 5 s", async () => {
  // Found by a review: a tenant's own database (a placement, `brigade tenants move`) waited a fixed 5 s for a
  // connection whatever DATABASE_ACQUIRE_TIMEOUT_MS said, while the main pool and the services' own followed it.
  const databases = createDatabases({ url: 'postgres://app@main.example/brigade', poolSize: 1, acquireTimeoutMs: 1500 });
  const unbounded = createDatabases({ url: 'postgres://app@main.example/brigade', poolSize: 1 });
  try {
    const placed = databases.poolForUrl('postgres://app@tenant.example/brand_a');
    assert.deepEqual([databases.poolFor('platform').options.connectionTimeoutMillis, placed.options.connectionTimeoutMillis], [1500, 1500]);
    // Without one (tests), a placed database still gives up after 5 s: one that hangs must not hold its callers for the kernel's timeout.
    assert.equal(unbounded.poolForUrl('postgres://app@tenant.example/brand_a').options.connectionTimeoutMillis, 5000);
  } finally {
    await Promise.all([databases.close(), unbounded.close()]);
  }
});
