import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type pg from 'pg';
import { createEventStore } from '../../../src/platform/events/index.ts';
import { waitForPosition, type Projection } from '../../../src/platform/projections/index.ts';
import { waitForPositionOrHead } from '../../../src/platform/projections/waitForPositionOrHead.ts';
import { useTestDatabase } from '../../support/db.ts';
import { eventually, within } from '../../support/eventually.ts';

const database = useTestDatabase();
const store = createEventStore({ schema: 'ordering' });
const projection: Projection = { name: `held-${randomUUID()}`, service: 'ordering', schema: 'ordering', table: 'unused', store, reads: 'fold', apply: async () => [] };
/** A position no checkpoint reaches. */
const FAR = { transactionId: 1n << 40n, position: 1n };

/** Takes the pool's only connection; `released` settles once it has been given back `ms` later (noted as 'released' in `order`). */
const holdPool = async (pool: pg.Pool, ms: number, order: string[]): Promise<{ released: Promise<void> }> => {
  const held = await pool.connect();
  const released = new Promise<void>((resolve) =>
    setTimeout(() => {
      order.push('released');
      held.release();
      resolve();
    }, ms),
  );
  return { released };
};

/** Waits until the pool has nothing left to do (the reads and wake-ups the waits left behind), so it can end. */
const drained = (pool: pg.Pool) => eventually('the pool to drain', async () => pool.waitingCount === 0 && pool.idleCount === pool.totalCount, (done) => done, 20_000);

test('a wait whose pool is held by others returns within its time, not caught up, before the pool is free again', async () => {
  await database.ready;
  const pool = database.pool(1);
  const order: string[] = [];
  const { released } = await holdPool(pool, 3000, order);
  const result = await waitForPosition(pool, projection, FAR, { timeoutMs: 200 });
  order.push('returned');
  assert.equal(result.caughtUp, false);
  await released;
  assert.deepEqual(order, ['returned', 'released'], 'the wait did not wait for the pool');
  await drained(pool);
});

test('a wait whose pool is held by others returns when its signal aborts', async () => {
  await database.ready;
  const pool = database.pool(1);
  const order: string[] = [];
  const { released } = await holdPool(pool, 3000, order);
  const abort = new AbortController();
  setTimeout(() => abort.abort(), 100);
  const result = await waitForPosition(pool, projection, FAR, { timeoutMs: 60_000, signal: abort.signal });
  order.push('returned');
  assert.equal(result.caughtUp, false);
  await released;
  assert.deepEqual(order, ['returned', 'released'], 'the wait ended with the signal, not with the pool');
  await drained(pool);
});

test('a wait for a position or the head whose pool is held by others ends at its time limit and at its signal, its first read included', async () => {
  await database.ready;
  const pool = database.pool(1);
  // Held until both waits have returned: a wait that needs the connection for its first checkpoint read
  // cannot end before the test gives up on it.
  const held = await pool.connect();
  try {
    const timedOut = await within(waitForPositionOrHead(pool, projection, FAR, { timeoutMs: 200 }), 10_000, 'the wait to end at its time limit');
    assert.deepEqual([timedOut.caughtUp, timedOut.reachesAfter], [false, undefined]);
    const abort = new AbortController();
    const waiting = waitForPositionOrHead(pool, projection, FAR, { timeoutMs: 600_000, signal: abort.signal });
    abort.abort();
    const aborted = await within(waiting, 10_000, 'the wait to end at its signal');
    assert.deepEqual([aborted.caughtUp, aborted.reachesAfter], [false, undefined]);
  } finally {
    held.release();
  }
  await drained(pool);
});
