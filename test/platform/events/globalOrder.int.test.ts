import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, beforeEach, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { createEventStore, type GlobalPosition, type RecordedEvent, type Subscription } from '../../../src/platform/events/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { deferred, holdOpen, readAllUntil } from './support.ts';
import { FLOW_MS } from '../../support/eventually.ts';

describe('event store: the global order no subscriber can skip', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let admin: pg.Pool;
  const store = createEventStore({ schema: 'ordering' });
  const tenantA = randomUUID();
  const tenantB = randomUUID();
  const asA: UnitOfWorkContext = { service: 'ordering', tenantId: tenantA, actor: { kind: 'staff', id: randomUUID() } };
  const asB: UnitOfWorkContext = { service: 'ordering', tenantId: tenantB, actor: { kind: 'staff', id: randomUUID() } };
  const append = (ctx: UnitOfWorkContext, type: string) => unitOfWork(pool, ctx, (tx) => store.append(tx, `s-${randomUUID()}`, [{ type, data: { type } }], 0));

  /** A subscription from "now" (the tip of the log) that records what it delivers. */
  let delivered: RecordedEvent[];
  let sub: Subscription;
  const startSubscription = async () => {
    const tip = await unitOfWork(pool, { service: 'ordering', actor: { kind: 'system', id: 'tip' } }, async (tx) => {
      let at: GlobalPosition | undefined;
      for (;;) {
        const page = await store.readAll(tx, { after: at, limit: 10_000 });
        if (page.events.length === 0) return page.checkpoint;
        at = page.checkpoint;
      }
    });
    delivered = [];
    sub = store.subscribe(pool, { service: 'ordering', name: 'test', after: tip, batchSize: 100, handler: async (events) => void delivered.push(...events) });
  };

  /**
   * Polls until `count` events in all were delivered. Transaction ids are cluster-wide, so a write
   * transaction of another database (a parallel test file) can hold the bound back for a moment:
   * that delays delivery, never reorders or skips it (decision 0011), so positive checks wait for it.
   */
  const deliveredUntil = async (count: number) => {
    const deadline = Date.now() + FLOW_MS;
    while (delivered.length < count) {
      if (Date.now() > deadline) throw new Error(`expected ${count} events delivered, got ${delivered.length}`);
      if ((await sub.poll()) === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(delivered.length, count);
    return delivered.map((e) => e.type);
  };

  before(() => {
    pool = database.pool(8);
    admin = database.pool(1);
  });
  beforeEach(startSubscription);

  test('late commit: the subscriber does not pass an open append, and delivers it once it commits', async () => {
    const late = await holdOpen(pool, asA, (tx) => store.append(tx, `s-${randomUUID()}`, [{ type: 'Late', data: {} }], 0));
    await append(asA, 'Early1');
    await append(asB, 'Early2');

    // The hazard the technique exists for: by position alone, the two later commits are readable now
    // and the open one sits below them, so a position checkpoint would move past it for good.
    const byPosition = (await admin.query<{ type: string; global_position: string }>(
      'select type, global_position from ordering.events where global_position > $1 order by global_position',
      [late.result.events[0]!.globalPosition.position.toString()],
    )).rows;
    assert.deepEqual(byPosition.map((r) => r.type), ['Early1', 'Early2']);

    assert.equal(await sub.poll(), 0, 'nothing is delivered while an older transaction that appended is open');
    assert.equal(await sub.poll(), 0);
    await late.commit();
    assert.deepEqual(await deliveredUntil(3), ['Late', 'Early1', 'Early2']);
    assert.deepEqual(sub.checkpoint, delivered[2]!.globalPosition);
    assert.equal(await sub.poll(), 0, 'and nothing twice');
  });

  test('late commit by a transaction that got its id after the ones that committed: they are delivered at once, it later', async () => {
    await append(asA, 'Before');
    // This transaction gets its id when it appends, after "Before" committed, and stays open.
    const late = await holdOpen(pool, asB, (tx) => store.append(tx, `s-${randomUUID()}`, [{ type: 'Late', data: {} }], 0));
    assert.deepEqual(await deliveredUntil(1), ['Before']);
    await append(asA, 'After');
    assert.equal(await sub.poll(), 0, '"After" waits behind the open transaction, whose id is lower');
    await late.commit();
    assert.deepEqual(await deliveredUntil(3), ['Before', 'Late', 'After']);
  });

  test('rolled-back append: the subscriber waits while it is open and moves on the moment it rolls back', async () => {
    const doomed = await holdOpen(pool, asA, (tx) => store.append(tx, `s-${randomUUID()}`, [{ type: 'Doomed', data: {} }], 0));
    await append(asB, 'Committed1');
    assert.equal(await sub.poll(), 0);
    await doomed.rollback();
    // No stall: the rolled-back transaction no longer holds the bound.
    assert.deepEqual(await deliveredUntil(1), ['Committed1']);
    await append(asA, 'Committed2');
    assert.deepEqual(await deliveredUntil(2), ['Committed1', 'Committed2']);
    assert.equal(await sub.poll(), 0);
  });

  test('a system reader sees every tenant, a tenant reader only its own, and no tenant sees nothing', async () => {
    const before = sub.checkpoint;
    await append(asA, 'OfA');
    await append(asB, 'OfB');
    assert.deepEqual(await deliveredUntil(2), ['OfA', 'OfB']);
    assert.deepEqual(delivered.map((e) => e.metadata.tenantId), [tenantA, tenantB]);
    const ofA = await unitOfWork(pool, asA, (tx) => store.readAll(tx, { after: before }));
    assert.deepEqual(ofA.events.map((e) => e.type), ['OfA']);
    const none = await unitOfWork(pool, { service: 'ordering', actor: { kind: 'customer', id: randomUUID() } }, (tx) => store.readAll(tx, { after: before }));
    assert.deepEqual(none.events, []);
  });

  test('poll() while run() (or another poll) is in flight joins it: no batch is delivered twice', { timeout: 30_000 }, async () => {
    const from = sub.checkpoint;
    for (const t of ['j1', 'j2', 'j3']) await append(asA, t);
    // Wait until the three are readable: from then on every read after `from` returns them (the set of
    // rows below the bound only grows), so a second read at `from` would hand them over again.
    await readAllUntil(pool, store, (events) => ['j1', 'j2', 'j3'].every((t) => events.some((e) => e.type === t)));

    // A pool that counts the reads the subscription starts (each is one unit of work, one connect).
    const counted = database.pool(2);
    const connect = counted.connect.bind(counted);
    let reads = 0;
    counted.connect = (() => {
      reads++;
      return connect();
    }) as typeof counted.connect;

    const got: string[] = [];
    const entered = [deferred(), deferred()];
    const release = deferred();
    const stop = new AbortController();
    const runner = store.subscribe(counted, {
      service: 'ordering', name: 'joined', after: from, batchSize: 100, idleMs: 60_000,
      handler: async (events) => {
        const call = got.length === 0 ? 0 : 1;
        got.push(...events.map((e) => e.type));
        entered[call]?.resolve();
        if (call === 0) await release.promise;
      },
    });
    const running = runner.run(stop.signal);
    // run()'s poll has read the batch and holds it in the handler; its checkpoint has not moved yet.
    await entered[0]!.promise;
    assert.equal(reads, 1);
    const polls = [runner.poll(), runner.poll()];
    // A poll that started a read of its own (before the fix) reads at the same checkpoint: let it reach
    // the handler before run()'s batch completes, which is the interleaving that delivered it twice.
    if (reads > 1) await entered[1]!.promise;
    release.resolve();
    const counts = await Promise.all(polls);
    stop.abort();
    await running;
    assert.deepEqual(got.filter((t) => t.startsWith('j')), ['j1', 'j2', 'j3'], 'each event once');
    assert.equal(reads, 1, 'the polls joined run()’s read');
    assert.deepEqual(counts, [got.length, got.length], 'a joined poll resolves with the batch it joined');
    // Once nothing is in flight, poll() reads again, from the checkpoint the joined batch left.
    assert.equal(await runner.poll(), 0);
    assert.equal(reads, 2);
  });

  test('run() delivers in batches until the stop signal, and wake() ends an idle wait', { timeout: 30_000 }, async () => {
    const got: string[] = [];
    const enough = deferred();
    const stop = new AbortController();
    const from = sub.checkpoint;
    const runner = store.subscribe(pool, {
      service: 'ordering', name: 'runner', after: from, batchSize: 2, idleMs: 60_000,
      handler: async (events) => {
        got.push(...events.map((e) => e.type));
        if (got.length === 5) enough.resolve();
      },
    });
    const running = runner.run(stop.signal);
    for (const t of ['r1', 'r2', 'r3', 'r4', 'r5']) await append(asA, t);
    // idleMs is a minute, so only wake() ends the runner's idle waits. It is called until everything
    // arrived, because a parallel test's open transaction (ids are cluster-wide) can delay delivery.
    const waking = setInterval(() => runner.wake(), 10);
    await enough.promise;
    clearInterval(waking);
    stop.abort();
    await running;
    assert.deepEqual(got, ['r1', 'r2', 'r3', 'r4', 'r5']);
  });
});
