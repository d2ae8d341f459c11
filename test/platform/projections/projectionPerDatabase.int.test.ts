import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import client from 'prom-client';
import { commitStatements } from '../../../src/platform/db/index.ts';
import { createEventStore, type GlobalPosition } from '../../../src/platform/events/index.ts';
import { runProjection, type Projection } from '../../../src/platform/projections/index.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../../support/db.ts';
import { eventually } from '../../support/eventually.ts';

// Decision 0008: with a restaurant in a dedicated database, a process runs each projector on the
// shared database and on the dedicated one, with one metrics registry. Each instance reports under
// its own series: the shared one's exactly as before (`{projection="ordering.…"}`), the dedicated
// one's with `database="db1"`.
describe('one projection on two databases, one registry', () => {
  const shared = useTestDatabase();
  let dedicated: TestDatabase;
  let sharedPool: pg.Pool;
  let dedicatedPool: pg.Pool;
  const store = createEventStore({ schema: 'ordering' });

  before(async () => {
    await shared.ready;
    sharedPool = shared.pool(4);
    dedicated = await createTestDatabase();
    dedicatedPool = new pg.Pool({ connectionString: dedicated.url, max: 4 });
  });
  after(async () => {
    await dedicatedPool?.end();
    await dedicated?.drop();
  });

  /** Appends `count` events to a new stream of a new tenant in the database of `pool`; resolves with the last position. */
  const append = async (pool: pg.Pool, count: number): Promise<GlobalPosition> => {
    const events = Array.from({ length: count }, () => ({ type: 'T', data: {} }));
    const result = await store.appendAndCommit((context, statements) => commitStatements(pool, context, statements), { service: 'ordering', tenantId: randomUUID() }, `s-${randomUUID()}`, events, 0);
    return result.events.at(-1)!.globalPosition;
  };

  test('each instance reports its events, position and leadership under its own labels', async () => {
    const sharedAt = await append(sharedPool, 1);
    const dedicatedAt = await append(dedicatedPool, 2);
    const projection: Projection = { name: `perdb-${randomUUID()}`, service: 'ordering', schema: 'ordering', table: 'unused', store, reads: 'fold', apply: async () => [] };
    const key = `ordering.${projection.name}`;
    const registry = new client.Registry();
    const stop = new AbortController();
    const runs = [
      runProjection(sharedPool, projection, { registry, idleMs: 10 }).run(stop.signal),
      runProjection(dedicatedPool, projection, { registry, idleMs: 10, database: 'db1' }).run(stop.signal),
    ];
    const values = async (name: string) =>
      (await registry.getSingleMetric(name)!.get()).values
        .filter((v) => v.labels.projection === key)
        .map((v) => `${v.labels.database ?? 'shared'}=${v.value}`)
        .sort();
    try {
      await eventually('both instances applied their events', () => values('brigade_projection_events_total'), (v) => v.join() === 'db1=2,shared=1');
      assert.deepEqual(await values('brigade_projection_position'), [`db1=${Number(dedicatedAt.position)}`, `shared=${Number(sharedAt.position)}`]);
      assert.deepEqual(await values('brigade_projection_leader'), ['db1=1', 'shared=1']);
      // The shared instance's series carry exactly the label they always had.
      const text = await registry.metrics();
      assert.match(text, new RegExp(`^brigade_projection_events_total\\{projection="${key}"\\} 1$`, 'm'));
      assert.match(text, new RegExp(`^brigade_projection_events_total\\{projection="${key}",database="db1"\\} 2$`, 'm'));
    } finally {
      stop.abort();
      await Promise.all(runs);
    }
    assert.deepEqual(await values('brigade_projection_leader'), ['db1=0', 'shared=0']);
  });

  test('an empty database label is refused', () => {
    const projection: Projection = { name: 'unused', service: 'ordering', schema: 'ordering', table: 'unused', store, reads: 'fold', apply: async () => [] };
    assert.throws(() => runProjection(sharedPool, projection, { database: '' }), /database must name the database/);
  });
});
