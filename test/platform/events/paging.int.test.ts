import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { createEventStore, START, type RecordedEvent } from '../../../src/platform/events/index.ts';
import { createTestDatabase } from '../../support/db.ts';

// Positions cross digit boundaries (9 → 10, 99 → 100): paging must follow numbers, not their texts.
test('readAll pages through every event in global order, across positions of different widths', async () => {
  const db = await createTestDatabase();
  const pool = new pg.Pool({ connectionString: db.url, max: 2 });
  try {
    const store = createEventStore({ schema: 'ordering' });
    const tenant = randomUUID();
    const ctx = { service: 'ordering', tenantId: tenant, actor: { kind: 'system' as const, id: 'test' } };
    const written: string[] = [];
    // One transaction whose events take positions 1..15, then one transaction per event.
    const batch = await unitOfWork(pool, ctx, (tx) => store.append(tx, 'order-batch', Array.from({ length: 15 }, (_, i) => ({ type: 'Tick', data: { i } })), 0));
    written.push(...batch.events.map((e) => e.metadata.messageId));
    for (let i = 0; i < 120; i++) {
      const stream = `order-${i % 7}`;
      const appended = await unitOfWork(pool, ctx, (tx) => store.append(tx, stream, [{ type: 'Tick', data: { i } }], 'any'));
      written.push(...appended.events.map((e) => e.metadata.messageId));
    }
    const read: RecordedEvent[] = [];
    let after = START;
    // An empty page is not the end: another test's open transaction anywhere on the server holds the
    // horizon back (transaction ids are cluster-wide), so keep paging, bounded, until all have come.
    const deadline = Date.now() + 120_000;
    while (read.length < written.length && Date.now() < deadline) {
      const page = await unitOfWork(pool, ctx, (tx) => store.readAll(tx, { after, limit: 4 }));
      if (page.events.length === 0) {
        await new Promise((r) => setTimeout(r, 50));
        continue;
      }
      read.push(...page.events);
      after = page.checkpoint;
    }
    const extra = await unitOfWork(pool, ctx, (tx) => store.readAll(tx, { after, limit: 4 }));
    assert.deepEqual(extra.events, [], 'nothing after the last event');
    assert.deepEqual(
      read.map((e) => e.metadata.messageId),
      written,
      'every event, once, in commit order',
    );
  } finally {
    await pool.end();
    await db.drop();
  }
});
