import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { commitStatements, unitOfWork, type Tx, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { createEventStore, readAllForFold, START, type EventStore, type FoldEvent, type GlobalPosition } from '../../../src/platform/events/index.ts';
import { applyBatch, ensureCheckpoint, formatPosition, type Projection } from '../../../src/platform/projections/index.ts';
import { readSharedPage } from '../../../src/platform/projections/sharedTail.ts';
import { useTestDatabase } from '../../support/db.ts';
import { FLOW_MS } from '../../support/eventually.ts';

describe('projections share the tail of the log they read (decision 0064)', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  const system: UnitOfWorkContext = { service: 'ordering', actor: { kind: 'system', id: 'test-tail' } };

  before(() => {
    pool = database.pool(8);
  });

  /** A store whose readAll counts the events it reads from the database. */
  const counting = () => {
    const store = createEventStore({ schema: 'ordering' });
    const counts = { reads: 0, events: 0 };
    const wrapped: EventStore = {
      ...store,
      readAll: async (tx, options) => {
        const page = await store.readAll(tx, options);
        counts.reads++;
        counts.events += page.events.length;
        return page;
      },
    };
    return { store: wrapped, counts };
  };
  const appendEvents = async (store: EventStore, n: number) => {
    const tenantId = randomUUID();
    for (let i = 0; i < n; i++) {
      await store.appendAndCommit((context, statements) => commitStatements(pool, context, statements), { service: 'ordering', tenantId }, `s-${randomUUID()}`, [{ type: 'T', data: { i } }], 0);
    }
  };
  const page = (store: EventStore, after: GlobalPosition, limit: number) => unitOfWork(pool, system, (tx) => readSharedPage(store, 'ordering', tx, after, limit));
  /** Every event after `from` as a direct read sees it now. */
  const direct = async (store: EventStore, from: GlobalPosition) =>
    unitOfWork(pool, system, async (tx) => {
      const all: string[] = [];
      for (let after = from; ; ) {
        const read = await store.readAll(tx, { after, limit: 1000 });
        if (read.events.length === 0) return all;
        all.push(...read.events.map((e) => formatPosition(e.globalPosition)));
        after = read.checkpoint;
      }
    });

  /**
   * Waits until `n` events after `from` are below the horizon: the horizon is the whole cluster's
   * oldest running transaction, which other test files running beside this one hold back at times.
   */
  const settled = async (store: EventStore, from: GlobalPosition, n: number) => {
    const deadline = Date.now() + FLOW_MS; // another file's open transaction can hold the read bound back
    for (;;) {
      const all = await direct(store, from);
      if (all.length >= n) return all;
      if (Date.now() > deadline) throw new Error(`only ${all.length} of ${n} events became readable`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };

  test('three readers at the same pace get the same pages, and each event is read from the database once', async () => {
    const { store, counts } = counting();
    const from = (await unitOfWork(pool, system, (tx) => store.readAll(tx, { after: START, limit: 1_000_000 }))).checkpoint;
    await appendEvents(store, 40);
    const expected = await settled(store, from, 40);
    counts.reads = 0;
    counts.events = 0;
    const checkpoints = [from, from, from];
    const seen: string[][] = [[], [], []];
    for (let round = 0; round < 8; round++) {
      for (let r = 0; r < 3; r++) {
        const read = await page(store, checkpoints[r]!, 7);
        seen[r]!.push(...read.events.map((e) => formatPosition(e.globalPosition)));
        checkpoints[r] = read.checkpoint;
      }
    }
    assert.equal(expected.length, 40);
    for (const s of seen) assert.deepEqual(s, expected);
    assert.equal(counts.events, 40, 'each event read from the database once for the three readers');
  });

  test('readers at different paces, with appends between their reads, each see the whole order once, without a gap', async () => {
    const { store } = counting();
    const from = (await unitOfWork(pool, system, (tx) => store.readAll(tx, { after: START, limit: 1_000_000 }))).checkpoint;
    const limits = [5, 11, 3];
    const checkpoints = [from, from, from];
    const seen: string[][] = [[], [], []];
    for (let round = 0; round < 30; round++) {
      if (round % 3 === 0) await appendEvents(store, 4);
      for (let r = 0; r < 3; r++) {
        if ((round + r) % (r + 1) !== 0) continue; // reader r reads every (r+1)th round
        const read = await page(store, checkpoints[r]!, limits[r]!);
        seen[r]!.push(...read.events.map((e) => formatPosition(e.globalPosition)));
        checkpoints[r] = read.checkpoint;
      }
    }
    const expected = await settled(store, from, 40);
    // Drain each reader to the end.
    for (let r = 0; r < 3; r++) {
      for (;;) {
        const read = await page(store, checkpoints[r]!, limits[r]!);
        if (read.events.length === 0) break;
        seen[r]!.push(...read.events.map((e) => formatPosition(e.globalPosition)));
        checkpoints[r] = read.checkpoint;
      }
    }
    assert.equal(expected.length, 40);
    for (const s of seen) assert.deepEqual(s, expected);
  });

  test('a reader left behind the kept tail (4,096 events) reads on its own and still sees every event once', async () => {
    const { store } = counting();
    const from = (await unitOfWork(pool, system, (tx) => store.readAll(tx, { after: START, limit: 1_000_000 }))).checkpoint;
    const tenantId = randomUUID();
    await pool.query(
      `insert into ordering.events (tenant_id, stream_id, stream_version, message_id, type, data, metadata)
       select $1, 'bulk-' || i, 1, gen_random_uuid(), 'T', jsonb_build_object('i', i), '{}' from generate_series(1, 5000) i`,
      [tenantId],
    );
    const expected = await settled(store, from, 5000);
    const drain = async (checkpoint: GlobalPosition, limit: number, max = Infinity) => {
      const seen: string[] = [];
      while (seen.length < max) {
        const read = await page(store, checkpoint, limit);
        if (read.events.length === 0) break;
        seen.push(...read.events.map((e) => formatPosition(e.globalPosition)));
        checkpoint = read.checkpoint;
      }
      return { seen, checkpoint };
    };
    const slow = await drain(from, 500, 500); // reads one page, then falls behind
    const fast = await drain(from, 500); // runs to the end: the tail keeps only its last 4,096 events
    const rest = await drain(slow.checkpoint, 300);
    assert.equal(expected.length, 5000);
    assert.deepEqual(fast.seen, expected);
    assert.deepEqual([...slow.seen, ...rest.seen], expected);
  });

  test('an event committed late is not skipped: the tail stops below the oldest running transaction', async () => {
    const { store } = counting();
    const from = (await unitOfWork(pool, system, (tx) => store.readAll(tx, { after: START, limit: 1_000_000 }))).checkpoint;
    const tenantId = randomUUID();
    const late = await pool.connect();
    try {
      await late.query('begin');
      await late.query(`select set_config('role', 'brigade_ordering', true), set_config('brigade.tenant_id', $1, true)`, [tenantId]);
      await late.query(`select * from ordering.append_events($1, 'late', 0, array[gen_random_uuid()], array['T'], array[1], array['{}'::jsonb], array['{}'::jsonb])`, [tenantId]);
      await appendEvents(store, 3);
      const first = await page(store, from, 10);
      assert.equal(first.events.length, 0, 'nothing passes the open transaction');
      await late.query('commit');
    } finally {
      late.release();
    }
    const seen: string[] = [];
    const deadline = Date.now() + FLOW_MS;
    for (let after = from; seen.length < 4 && Date.now() < deadline; ) {
      const read = await page(store, after, 2);
      if (read.events.length === 0) await new Promise((resolve) => setTimeout(resolve, 10)); // the horizon, held by other tests' transactions
      seen.push(...read.events.map((e) => `${e.streamId}`));
      after = read.checkpoint;
    }
    assert.equal(seen.length, 4);
    assert.equal((await page(store, from, 10)).events.length, 4, 'and a read from the start finds the same four');
    assert.equal(seen[0], 'late');
  });

  /** `tx` with a count of the event rows its reads of `ordering.events` return. */
  const countingTx = (tx: Tx, counts: { rows: number }): Tx => ({
    context: tx.context,
    afterCommit: (fn) => tx.afterCommit(fn),
    query: async (text, values) => {
      const result = await tx.query(text, values);
      if (typeof text === 'string' && text.includes('.events e ')) counts.rows += result.rows.length;
      return result as never;
    },
  });

  test('readers of fold events share a tail of their own: fold events only, each read from the database once, the same order as a direct read', async () => {
    const store = createEventStore({ schema: 'ordering' });
    const from = (await unitOfWork(pool, system, (tx) => store.readAll(tx, { after: START, limit: 1_000_000 }))).checkpoint;
    await appendEvents(store, 30);
    const expected = await settled(store, from, 30);
    const counts = { rows: 0 };
    const checkpoints = [from, from, from];
    const seen: string[][] = [[], [], []];
    const events: FoldEvent[] = [];
    for (let round = 0; round < 6; round++) {
      for (let r = 0; r < 3; r++) {
        const read = await unitOfWork(pool, system, (tx) => readSharedPage(store, 'ordering', countingTx(tx, counts), checkpoints[r]!, 6, 'fold'));
        seen[r]!.push(...read.events.map((e) => formatPosition(e.globalPosition)));
        if (r === 0) events.push(...read.events);
        checkpoints[r] = read.checkpoint;
      }
    }
    for (const s of seen) assert.deepEqual(s, expected);
    // Plus one: readAllForFold reads the first event of each stored (type, version) whole, once per store, to learn whether an upcaster raises it.
    assert.equal(counts.rows, 31, 'each event read from the database once for the three readers');
    const direct = await unitOfWork(pool, system, (tx) => readAllForFold(store, tx, { after: from, limit: 30 }));
    assert.deepEqual(events, direct.events, 'the events a direct fold read gives');
    assert.ok(events.every((e) => !('recordedAt' in e.metadata) && !('messageId' in e.metadata)), 'fold events, not envelopes');
    // The envelope readers of the same store have a tail of their own: whole envelopes from the same checkpoint.
    const envelopes = await page(store, from, 5);
    assert.equal(envelopes.events.length, 5);
    assert.ok(envelopes.events.every((e) => typeof e.metadata.recordedAt === 'string' && typeof e.metadata.messageId === 'string'));
  });

  test('applyBatch hands a projection that reads fold events fold events, and one that reads envelopes envelopes', async () => {
    const store = createEventStore({ schema: 'ordering' });
    const from = (await unitOfWork(pool, system, (tx) => store.readAll(tx, { after: START, limit: 1_000_000 }))).checkpoint;
    await appendEvents(store, 3);
    // Another file's open transaction can hold the horizon below these three for a while: wait until
    // they are readable, so that both projections read the same, final log.
    const ours = await settled(store, from, 3);
    const got: Record<string, FoldEvent[]> = { fold: [], envelope: [] };
    const base = { service: 'ordering', schema: 'ordering', table: 'unused', store, eventTypes: new Set(['T']) };
    const projections: Projection[] = [
      { ...base, name: `fold-${randomUUID()}`, reads: 'fold', apply: async (_tx, events) => (got.fold!.push(...events), []) },
      { ...base, name: `envelope-${randomUUID()}`, apply: async (_tx, events) => (got.envelope!.push(...events), []) },
    ];
    for (const projection of projections) {
      await unitOfWork(pool, system, (tx) => ensureCheckpoint(tx, projection));
      while ((await unitOfWork(pool, system, (tx) => applyBatch(tx, projection, 1000))).read > 0);
    }
    const fold = got.fold!.map((e) => formatPosition(e.globalPosition));
    assert.deepEqual(fold.slice(-3), ours, 'the three appended last');
    assert.deepEqual(got.envelope!.map((e) => formatPosition(e.globalPosition)), fold, 'the same events');
    assert.ok(got.fold!.every((e) => !('recordedAt' in e.metadata)), 'fold events');
    assert.ok(got.envelope!.every((e) => 'recordedAt' in e.metadata), 'envelopes');
  });
});
