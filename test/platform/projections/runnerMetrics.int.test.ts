import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import client from 'prom-client';
import { commitStatements } from '../../../src/platform/db/index.ts';
import { createEventStore, type FoldEvent } from '../../../src/platform/events/index.ts';
import { runProjection, type Projection } from '../../../src/platform/projections/index.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { within } from '../../support/eventually.ts';

describe('a projection runner reports its batches in metrics', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  const store = createEventStore({ schema: 'ordering' });

  before(async () => {
    db = await createTestDatabase();
    pool = new pg.Pool({ connectionString: db.url, max: 4 });
  });
  after(async () => {
    await pool.end();
    await db.drop();
  });

  test('after a batch: events applied, the checkpoint position, and the lag counted from when the last event occurred', async () => {
    const occurredAt = new Date(Date.now() - 60_000);
    const { events } = await store.appendAndCommit(
      (context, statements) => commitStatements(pool, context, statements),
      { service: 'ordering', tenantId: randomUUID() },
      `s-${randomUUID()}`,
      [{ type: 'T', data: {}, occurredAt }],
      0,
    );
    const applied: FoldEvent[] = [];
    const projection: Projection = {
      name: `metrics-${randomUUID()}`, service: 'ordering', schema: 'ordering', table: 'unused', store, reads: 'fold',
      apply: async (_tx, batch) => (applied.push(...batch), []),
    };
    const registry = new client.Registry();
    const stop = new AbortController();
    const running = runProjection(pool, projection, { registry, idleMs: 10, onBatch: () => stop.abort() }).run(stop.signal);
    await within(running, 30_000, 'the runner applies the event and stops');
    const value = async (name: string) => (await registry.getSingleMetric(name)!.get()).values.find((v) => v.labels.projection === `ordering.${projection.name}`)?.value;
    assert.equal(applied.length, 1);
    assert.equal(await value('brigade_projection_events_total'), 1);
    assert.equal(await value('brigade_projection_position'), Number(events[0]!.globalPosition.position));
    const lag = (await value('brigade_projection_lag_seconds'))!;
    assert.ok(lag >= 59 && lag < 120, `lag ${lag} s: the event occurred 60 s before it was applied`);
  });
});
