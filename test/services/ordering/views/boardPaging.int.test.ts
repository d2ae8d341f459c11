import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { createPlatform, type Platform } from '../../../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../../../src/composition/services.ts';
import { loadConfig } from '../../../../src/platform/config/index.ts';
import { comparePositions, formatPosition } from '../../../../src/platform/projections/index.ts';
import type { GlobalPosition } from '../../../../src/platform/events/index.ts';
import { createViewRoutes, ORDER_VIEWS } from '../../../../src/services/ordering/views/index.ts';
import { useTestDatabase } from '../../../support/db.ts';
import { TEST_SECRET } from '../../../support/platform.ts';
import { append, drain, event, newOrder, placed, type OrderIds } from './support.ts';

type Board = { position: string; lagging: boolean; orders: Array<{ orderId: string; placedAt: string; status: string }>; next: string | null };

describe('the live-board comes in pages', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let platform: Platform;
  const rid = randomUUID();
  let staff: string;
  /** The restaurant's orders, oldest first as the board sorts them (placed_at, then order id). */
  let made: Array<{ order: OrderIds; at: string; cancelled: boolean }> = [];
  let head: GlobalPosition = { transactionId: 0n, position: 0n };

  const get = async (url: string): Promise<{ status: number; body: Board & { field?: string } }> => {
    const response = await platform.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${staff}` } });
    return { status: response.statusCode, body: response.json() };
  };
  /** Follows `next` from `url` until an answer has none; the order ids of each page. */
  const pages = async (url: string): Promise<string[][]> => {
    const out: string[][] = [];
    let next: string | null = null;
    do {
      const page = await get(next === null ? url : `${url}&before=${encodeURIComponent(next)}`);
      assert.equal(page.status, 200, JSON.stringify(page.body));
      assert.equal(page.body.lagging, false);
      out.push(page.body.orders.map((o) => o.orderId));
      next = page.body.next;
      assert.ok(out.length < 10, 'the pages end');
    } while (next !== null);
    return out;
  };

  before(async () => {
    pool = database.pool(10);
    const { url } = database.db;
    const config = loadConfig({ DATABASE_URL: url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '6' }, { services: SERVICE_NAMES });
    platform = await createPlatform(config, { url, embedded: null }, { services: [{ name: 'ordering', routes: createViewRoutes() }], logger: false });
    database.defer(() => platform.close());
    staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    // 501 orders, three to an instant (the order id breaks the ties), appended out of placement order;
    // every seventh is cancelled, so the board of open orders has fewer.
    made = Array.from({ length: 501 }, (_, i) => ({ order: newOrder(rid), at: new Date(Date.UTC(2025, 0, 1, 12) + Math.floor(i / 3) * 1000).toISOString(), cancelled: i % 7 === 0 }));
    const shuffled = [...made].reverse();
    for (let i = 0; i < shuffled.length; i += 10) {
      const positions = await Promise.all(
        shuffled.slice(i, i + 10).map(({ order, at, cancelled }) => append(pool, order, cancelled ? [placed(order, at), event(order, 'OrderCancelled', { by: 'staff', reason: 'closing' })] : [placed(order, at)])),
      );
      for (const p of positions) if (comparePositions(p, head) > 0) head = p;
    }
    await drain(pool, ORDER_VIEWS.board, head);
    made.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : a.order.orderId < b.order.orderId ? -1 : 1));
  });

  test('?all=true&limit=500 has a next; following it gives the 501st; together every order once, oldest first (before: 500 rows and no way to the rest)', async () => {
    const first = await get(`/v1/restaurants/${rid}/board?all=true&limit=500&after=${formatPosition(head)}`);
    assert.equal(first.status, 200);
    assert.equal(first.body.orders.length, 500);
    assert.equal(typeof first.body.next, 'string', 'more orders exist: a next');
    const second = await get(`/v1/restaurants/${rid}/board?all=true&limit=500&before=${encodeURIComponent(first.body.next!)}`);
    assert.equal(second.status, 200);
    assert.deepEqual(second.body.orders.map((o) => o.orderId), [made.at(-1)!.order.orderId], 'the newest order');
    assert.equal(second.body.next, null);
    assert.deepEqual([...first.body.orders, ...second.body.orders].map((o) => o.orderId), made.map((m) => m.order.orderId), 'every order once, in placement order');
    assert.deepEqual(Object.keys(first.body).sort(), ['lagging', 'next', 'orders', 'position'], 'the fields it had, and next');
  });

  test('the default board (open orders, 500 a page) pages too, and smaller pages tile it', async () => {
    const open = made.filter((m) => !m.cancelled).map((m) => m.order.orderId);
    const whole = await pages(`/v1/restaurants/${rid}/board?all=true`);
    assert.deepEqual(whole.flat(), made.map((m) => m.order.orderId));
    assert.deepEqual(await pages(`/v1/restaurants/${rid}/board?after=${formatPosition(head)}`), [open], 'the open orders fit one page of 500: no next');
    const small = await pages(`/v1/restaurants/${rid}/board?limit=100`);
    assert.deepEqual(small.map((p) => p.length), [100, 100, 100, 100, open.length - 400]);
    assert.deepEqual(small.flat(), open, 'oldest first, none twice, none missed');
  });

  test('a `before` that is not a cursor of an answer is a 400 naming the field', async () => {
    const page = await get(`/v1/restaurants/${rid}/board?before=nonsense`);
    assert.equal(page.status, 400);
    assert.equal(page.body.field, 'querystring.before');
  });
});
