import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { createPlatform, type Platform } from '../../../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../../../src/composition/services.ts';
import { loadConfig } from '../../../../src/platform/config/index.ts';
import type { GlobalPosition } from '../../../../src/platform/events/index.ts';
import { comparePositions, formatPosition, listenToProjections, rebuildProjection } from '../../../../src/platform/projections/index.ts';
import { createViewRoutes, evolveBoard, ORDER_VIEWS } from '../../../../src/services/ordering/views/index.ts';
import { defineOrderView } from '../../../../src/services/ordering/views/defineOrderView.ts';
import { useTestDatabase } from '../../../support/db.ts';
import { FLOW_MS, within } from '../../../support/eventually.ts';
import { TEST_SECRET } from '../../../support/platform.ts';
import { append, drain, newOrder, openBoardStream, placed, store } from './support.ts';

const { board } = ORDER_VIEWS;

// No projector runs here: `brigade worker` is stopped, and the rebuild's swap alone applies what was appended.
describe('a rebuild while the projector is stopped', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let platform: Platform;
  let base: string;

  before(async () => {
    pool = database.pool(6);
    const { url } = database.db;
    const config = loadConfig({ DATABASE_URL: url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '6' }, { services: SERVICE_NAMES });
    platform = await createPlatform(config, { url, embedded: null }, { services: [{ name: 'ordering', routes: createViewRoutes({ heartbeatMs: 50 }) }], logger: false });
    database.defer(() => platform.close());
    base = await platform.app.listen({ host: '127.0.0.1', port: 0 });
  });

  test("the swap notifies what its catch-up applied: listeners hear its checkpoint, an open board stream hears it and ends for a fresh start, whose board read has the order (before: nothing was sent, and the live projector then found nothing new)", async () => {
    const rid = randomUUID();
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    const stream = await openBoardStream(base, rid, staff);
    assert.equal(stream.response.status, 200);
    // One change through a batch first: the stream has pushed what was there and waits for notifications.
    const first = newOrder(rid);
    const p1 = await append(pool, first, [placed(first)]);
    await drain(pool, board, p1);
    await stream.until((t) => t.includes(`id: ${formatPosition(p1)}\nevent: order`));

    const listener = await listenToProjections(pool);
    database.defer(() => listener.close());
    let heard: (at: GlobalPosition) => void = () => undefined;
    const heardPast = new Promise<GlobalPosition>((resolve) => (heard = resolve));
    const o = newOrder(rid);
    const p2 = await append(pool, o, [placed(o)]);
    listener.subscribe(board, (at) => {
      if (comparePositions(at, p2) >= 0) heard(at);
    });

    const rebuilt = await rebuildProjection(pool, board);
    assert.ok(comparePositions(rebuilt.checkpoint, p2) >= 0, 'the swap applied the order');
    const at = await within(heardPast, FLOW_MS, 'a notification at or past the order');
    assert.equal(formatPosition(at), formatPosition(rebuilt.checkpoint), "the notification carries the swap's checkpoint");
    // The stream reads on the swap's notification alone (no projector runs), finds the view rebuilt and
    // ends with its id cleared (the next test); the client starts afresh and reads the board.
    await within(stream.ended, 20_000, 'the open stream to end after the rebuild');
    assert.match(stream.text(), /\nid\n\n$/);
    const read = await fetch(`${base}/v1/restaurants/${rid}/board?after=${formatPosition(rebuilt.checkpoint)}`, { headers: { authorization: `Bearer ${staff}` } });
    const orders = ((await read.json()) as { orders: Array<{ orderId: string }> }).orders.map((r) => r.orderId);
    assert.ok(orders.includes(o.orderId), 'the order the swap applied is on the board');
  });

  test('a rebuild that changes the fold ends open board streams with the id cleared, and refuses a Last-Event-ID from before it, so every board reloads the rebuilt rows (before: the rebuilt rows kept their positions, and open and resumed streams never sent them)', async () => {
    const rid = randomUUID();
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    const open = await openBoardStream(base, rid, staff);
    assert.equal(open.response.status, 200);
    const o = newOrder(rid);
    const p1 = await append(pool, o, [placed(o)]);
    await drain(pool, board, p1);
    await open.until((t) => t.includes(`id: ${formatPosition(p1)}\nevent: order`));
    assert.ok(!open.text().includes('"currency":"XXX"'));

    // A corrected fold, as after a fix to `evolve`: every row changes, none moves past its last event.
    const corrected = defineOrderView(store, {
      name: board.name,
      table: board.table,
      columns: {
        tenant_id: 'uuid', order_id: 'uuid', status: 'text', lines: 'jsonb', total: 'bigint', currency: 'text', placed_at: 'timestamptz', accepted_at: 'timestamptz',
        ready_at: 'timestamptz', eta_minutes: 'integer', courier_id: 'uuid', dispatch_alert: 'jsonb', updated_at: 'timestamptz', version: 'integer',
      },
      evolve: (row, event) => {
        const next = evolveBoard(row, event);
        return next === undefined ? undefined : { ...next, currency: 'XXX' };
      },
    });
    await rebuildProjection(pool, corrected);
    const read = (await (await fetch(`${base}/v1/restaurants/${rid}/board`, { headers: { authorization: `Bearer ${staff}` } })).json()) as { orders: Array<{ currency: string }> };
    assert.deepEqual(read.orders.map((r) => r.currency), ['XXX'], 'the board read has the rebuilt row');

    // The open stream ends and clears its id: the client reconnects afresh and reads the board again.
    await within(open.ended, 20_000, 'the open stream to end after the rebuild');
    assert.match(open.text(), /rebuilt[^\n]*\nid\n\n$/, 'the open stream says why and clears the last event id');

    // A client resuming after an id sent before the rebuild is told the same at once.
    const resumed = await openBoardStream(base, rid, staff, { 'last-event-id': formatPosition(p1) });
    assert.equal(resumed.response.status, 200);
    await within(resumed.ended, 20_000, 'the resumed stream to end');
    assert.match(resumed.text(), /rebuilt[^\n]*\nid\n\n$/, 'a Last-Event-ID from before the rebuild clears the id');
    assert.ok(!resumed.text().includes('event: start'));

    // Once the view has moved on past the rebuild, a stream started afresh can be resumed after its start.
    const other = newOrder(rid);
    await drain(pool, board, await append(pool, other, [placed(other)]));
    const fresh = await openBoardStream(base, rid, staff);
    await fresh.until((t) => t.includes('event: start'));
    const [, start] = /\nid: (\d+\.\d+)\nevent: start/.exec(fresh.text()) ?? [];
    await fresh.close();
    const again = await openBoardStream(base, rid, staff, { 'last-event-id': start! });
    await again.until((t) => t.includes('event: start'));
    await again.close();
  });
});
