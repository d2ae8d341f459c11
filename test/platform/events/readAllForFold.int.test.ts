import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { clientTx, unitOfWork, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import {
  createEventStore,
  createUpcasters,
  readAllForFold,
  streamAllForFold,
  type EventStore,
  type FoldEvent,
  type GlobalPosition,
} from '../../../src/platform/events/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { holdOpen } from './support.ts';
import { FLOW_MS } from '../../support/eventually.ts';

/** The fields of a fold event, whatever object carries them. */
const foldFields = (e: FoldEvent) => ({
  streamId: e.streamId,
  streamVersion: e.streamVersion,
  type: e.type,
  schemaVersion: e.schemaVersion,
  storedSchemaVersion: e.storedSchemaVersion,
  data: e.data,
  metadata: { tenantId: e.metadata.tenantId, occurredAt: e.metadata.occurredAt },
  globalPosition: e.globalPosition,
});

describe('readAllForFold: the global order with only what a fold reads', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  const store = createEventStore({ schema: 'ordering' });
  const upcasting = createEventStore({
    schema: 'ordering',
    upcasters: createUpcasters([{ type: 'OrderPlaced', fromVersion: 1, upcast: (d, meta) => ({ ...(d as object), currency: 'EUR', placedAt: meta.occurredAt }) }]),
  });
  const tenant = randomUUID();
  const staff: UnitOfWorkContext = { service: 'ordering', tenantId: tenant, actor: { kind: 'staff', id: randomUUID() } };
  const system: UnitOfWorkContext = { service: 'ordering', actor: { kind: 'system', id: 'test-fold-reader' } };

  /** Everything after `from` (in pages of `limit`) once `enough` holds; polls, see readAllUntil. */
  const readUntil = async <E extends FoldEvent>(read: (after: GlobalPosition) => Promise<{ events: readonly E[]; checkpoint: GlobalPosition }>, from: GlobalPosition, enough: (events: readonly E[]) => boolean) => {
    const deadline = Date.now() + FLOW_MS;
    for (;;) {
      const events: E[] = [];
      for (let at = from; ; ) {
        const page = await read(at);
        if (page.events.length === 0) break;
        events.push(...page.events);
        at = page.checkpoint;
      }
      if (enough(events)) return events;
      if (Date.now() > deadline) throw new Error('the reads did not reach the expected events');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
  const tip = () =>
    unitOfWork(pool, system, async (tx) => {
      let at: GlobalPosition | undefined;
      for (;;) {
        const page = await store.readAll(tx, { after: at, limit: 10_000 });
        if (page.events.length === 0) return page.checkpoint;
        at = page.checkpoint;
      }
    });

  /** Runs `fn` on a connection of its own in a read-only transaction as the system actor (a rebuild's reader). */
  const asReader = async <T>(fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      await client.query(`begin read only; set local role brigade_ordering; select set_config('brigade.actor_kind', 'system', true)`);
      return await fn(client);
    } finally {
      await client.query('commit').catch(() => undefined);
      client.release();
    }
  };

  before(() => {
    pool = database.pool(6);
  });

  test('returns the same events in the same order as readAll, upcast where the store upcasts, lean elsewhere', async () => {
    const from = await tip();
    const stream = `order-${randomUUID()}`;
    await unitOfWork(pool, staff, (tx) => store.append(tx, stream, [{ type: 'OrderPlaced', schemaVersion: 1, data: { total: 990, note: 'tab\there, line\nthere, \\ back' } }], 0));
    await unitOfWork(pool, staff, (tx) => store.append(tx, stream, [{ type: 'OrderAccepted', data: { etaMinutes: 5 }, extra: { requestId: 'r-1' } }], 1));
    await unitOfWork(pool, staff, (tx) =>
      store.append(tx, stream, [{ type: 'OrderReady', data: { secret: 'x' }, encryption: { keyId: 'k1', fields: ['/secret'] } }, { type: 'OrderPickedUp', data: {} }], 2),
    );
    const mine = (events: readonly FoldEvent[]) => events.filter((e) => e.streamId === stream);
    for (const s of [store, upcasting] as EventStore[]) {
      const full = mine(await readUntil((at) => unitOfWork(pool, system, (tx) => s.readAll(tx, { after: at, limit: 2 })), from, (es) => mine(es).length === 4));
      for (const limit of [1, 3, 1000]) {
        const folded = mine(await readUntil((at) => unitOfWork(pool, system, (tx) => readAllForFold(s, tx, { after: at, limit })), from, (es) => mine(es).length === 4));
        assert.deepEqual(folded.map(foldFields), full.map(foldFields), `pages of ${limit}`);
      }
    }
    const [placed] = mine(await readUntil((at) => unitOfWork(pool, system, (tx) => readAllForFold(upcasting, tx, { after: at })), from, (es) => mine(es).length === 4));
    assert.equal(placed?.schemaVersion, 2);
    assert.equal(placed?.storedSchemaVersion, 1);
    assert.deepEqual(placed?.data, { total: 990, note: 'tab\there, line\nthere, \\ back', currency: 'EUR', placedAt: placed?.metadata.occurredAt });
    const lean = mine(await readUntil((at) => unitOfWork(pool, system, (tx) => readAllForFold(store, tx, { after: at })), from, (es) => mine(es).length === 4));
    assert.deepEqual(Object.keys(lean[1]!.metadata).sort(), ['occurredAt', 'tenantId'], 'no upcaster applies: only the fold columns were read');
  });

  test('never passes an event a slower transaction has not committed yet; delivers it once it commits', async () => {
    const from = await tip();
    const held = await holdOpen(pool, staff, (tx) => store.append(tx, `order-${randomUUID()}`, [{ type: 'Late', data: {} }], 0));
    await unitOfWork(pool, staff, (tx) => store.append(tx, `order-${randomUUID()}`, [{ type: 'Early', data: {} }], 0));
    const beforeCommit = await unitOfWork(pool, system, (tx) => readAllForFold(store, tx, { after: from, limit: 100 }));
    assert.deepEqual(beforeCommit.events, [], 'the committed later event waits behind the open one');
    assert.deepEqual(beforeCommit.checkpoint, from);
    const streamed = await asReader((client) => streamAllForFold(store, client, { after: from, limit: 100 }, () => assert.fail('nothing to hand over')));
    assert.deepEqual([streamed.rows, streamed.checkpoint], [0, from], 'the stream waits behind the open one too');
    await held.commit();
    const events = await readUntil((at) => unitOfWork(pool, system, (tx) => readAllForFold(store, tx, { after: at, limit: 100 })), from, (es) => es.length >= 2);
    assert.deepEqual(
      events.map((e) => e.type),
      ['Late', 'Early'],
      'in transaction order, the late commit first',
    );
  });

  test('streamAllForFold hands over the same events in order; it stops at a (type, version) new to it or upcast, and when told to', async () => {
    const from = await tip();
    const stream = `order-${randomUUID()}`;
    await unitOfWork(pool, staff, (tx) => store.append(tx, stream, [{ type: 'OrderPlaced', schemaVersion: 1, data: { total: 1 } }], 0));
    await unitOfWork(pool, staff, (tx) => store.append(tx, stream, Array.from({ length: 5 }, (_, i) => ({ type: 'StreamTick', data: { i } })), 1));
    const mine = (events: readonly FoldEvent[]) => events.filter((e) => e.streamId === stream).map(foldFields);
    const expected = async (s: EventStore) => mine(await readUntil((at) => unitOfWork(pool, system, (tx) => s.readAll(tx, { after: at })), from, (es) => mine(es).length === 6));

    /** Streams from `from` in pages of 3 in one read-only transaction; after a stop, one page of readAllForFold, as a rebuild does. */
    const streamAll = (s: EventStore, stopAfter = Infinity) =>
      asReader(async (client) => {
        const got: FoldEvent[] = [];
        let stops = 0;
        const tx = clientTx(client, system);
        for (let at = from; ; ) {
          const r = await streamAllForFold(s, client, { after: at, limit: 3 }, (events) => {
            got.push(...events);
            return got.length < stopAfter;
          });
          at = r.checkpoint;
          if (!r.stopped && r.rows < 3) break;
          if (!r.stopped) continue;
          stops++;
          if (got.length >= stopAfter) break;
          const page = await readAllForFold(s, tx, { after: at, limit: 3 });
          got.push(...page.events);
          at = page.checkpoint;
          if (page.events.length < 3) break;
        }
        return { got: mine(got), stops };
      });
    const plain = createEventStore({ schema: 'ordering' }); // a store object not read with yet: nothing known
    // Wait until the events are below the read bound (another test file's open transaction can hold it
    // back): from then on every read sees them, so the streamed read is compared with a complete one.
    const complete = await expected(createEventStore({ schema: 'ordering' }));
    const first = await streamAll(plain);
    assert.deepEqual(first.got, complete);
    assert.ok(first.stops > 0, 'the stream stops to let readAllForFold learn the (type, version)s it has not seen');
    const again = await streamAll(plain);
    assert.deepEqual(again.got, first.got);
    assert.equal(again.stops, 0, 'no stops once every (type, version) is known not to be upcast');
    const upcast = await streamAll(upcasting);
    assert.deepEqual(upcast.got, await expected(upcasting), 'the v1 event comes upcast (through readAllForFold)');
    assert.equal(upcast.got[0]?.schemaVersion, 2);
    const told = await streamAll(plain, 1);
    assert.equal(told.got.length, 3, 'onEvents returning false after the first hand-over (of 3) stops the rest');
  });

  test('checks its options like readAll', async () => {
    await assert.rejects(unitOfWork(pool, system, (tx) => readAllForFold(store, tx, { limit: 0 })), /limit/);
    await assert.rejects(unitOfWork(pool, system, (tx) => readAllForFold(store, tx, { after: { transactionId: -1n, position: 0n } })), /after/);
  });
});
