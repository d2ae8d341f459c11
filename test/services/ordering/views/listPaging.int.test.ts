import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../../../support/platform.ts';
import { assignedOrder, courier, customer, seedRestaurant, type SeededRestaurant } from '../support.ts';
import { ValidationError } from '../../../../src/platform/errors/index.ts';
import { ORDER_VIEWS } from '../../../../src/services/ordering/views/index.ts';
import { boardQuery } from '../../../../src/services/ordering/views/listQueries.ts';
import { readView } from '../../../../src/services/ordering/views/readView.ts';
import { startOrderViewWorkers } from './support.ts';

let t: TestPlatform;
let r: SeededRestaurant;
let stopViews: (() => Promise<void>) | undefined;

before(async () => {
  t = await startTestPlatform({ DATABASE_POOL_SIZE: '12' });
  r = await seedRestaurant(t, 'Paging Kitchen');
  // The order views' projectors, as `brigade worker` runs them: `?after=` reads wait for them.
  stopViews = startOrderViewWorkers(t.platform.deps);
});
after(async () => {
  await stopViews?.();
  await t?.close();
});

type Page = { statusCode: number; body: { tasks?: Array<{ orderId: string }>; orders?: Array<{ orderId: string }>; next?: string | null; lagging?: boolean; code?: string; field?: string; detail?: string } };
/**
 * GET `url`; a read with `?after=` that answers `lagging` (its bounded wait ran out, as on a loaded
 * machine) is asked again, so the pages below compare caught-up views, never a timing.
 */
const get = async (url: string, token: string): Promise<Page> => {
  for (;;) {
    const res = await t.request({ method: 'GET', url, token });
    const page: Page = { statusCode: res.statusCode, body: res.json() };
    if (!(url.includes('after=') && page.statusCode === 200 && page.body.lagging === true)) return page;
  }
};

/** Follows `next` from `url` (which has its own query) until an answer has none; the ids of each page. */
async function pages(url: string, token: string, key: 'tasks' | 'orders'): Promise<string[][]> {
  const out: string[][] = [];
  let next: string | null | undefined = null;
  do {
    const page = await get(next === null || next === undefined ? url : `${url}&before=${encodeURIComponent(next)}`, token);
    assert.equal(page.statusCode, 200, JSON.stringify(page.body));
    assert.equal(page.body.lagging, false);
    out.push(page.body[key]!.map((o) => o.orderId));
    next = page.body.next;
    assert.ok(out.length < 10, 'the pages end');
  } while (next !== null && next !== undefined);
  return out;
}

describe('the courier tasks and the customer orders come in pages', () => {
  test('limit gives a page and `next` when more exist; `before=<next>` the rest, newest first, none twice; `after` still holds the writes', async () => {
    const c = await customer(t);
    const k = await courier(t);
    const made: Array<{ id: string; position: string }> = [];
    for (let i = 0; i < 5; i++) made.push(await assignedOrder(t, r, c, k));
    const at = made.at(-1)!.position;

    const whole = await get(`/v1/couriers/me/tasks?after=${at}`, k.token);
    assert.equal(whole.statusCode, 200);
    assert.equal(whole.body.next, null, 'everything in one page: no next');
    const newestFirst = whole.body.tasks!.map((o) => o.orderId);
    assert.deepEqual([...newestFirst].sort(), made.map((o) => o.id).sort());

    assert.deepEqual(await pages(`/v1/couriers/me/tasks?after=${at}&limit=2`, k.token, 'tasks'), [newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);
    assert.deepEqual(await pages(`/v1/couriers/me/tasks?limit=5`, k.token, 'tasks'), [newestFirst], 'exactly limit rows: no next');

    const orders = (await get(`/v1/customers/me/orders?after=${at}`, c.token)).body.orders!.map((o) => o.orderId);
    assert.equal(orders.length, 5);
    assert.deepEqual(await pages(`/v1/customers/me/orders?after=${at}&limit=3`, c.token, 'orders'), [orders.slice(0, 3), orders.slice(3)]);
  });

  test('a `before` whose instant is no calendar date PostgreSQL holds (30 February, year 0000, 1900-02-29, 24:00:00.5, an offset past 15:59) is a 400 naming the field on all three lists (before: a 500 INTERNAL from 22008), and 24:00:00 and 29 February of a leap year still read', async () => {
    const k = await courier(t);
    const c = await customer(t);
    const lists = [`/v1/restaurants/${r.rid}/board`, '/v1/customers/me/orders', '/v1/couriers/me/tasks'];
    const tokens = [r.staff, c.token, k.token];
    const cursor = (at: string) => Buffer.from(JSON.stringify([at, randomUUID()])).toString('base64url');
    for (const at of ['2025-02-30T00:00:00Z', '0000-01-01T00:00:00Z', '1900-02-29T00:00:00Z', '2025-04-31T12:00:00.5+02:00', '2025-01-01T24:00:00.5Z', '2025-01-01T12:00:00+16:00', '2025-01-01T12:00:00+01:60', '2025-13-01T00:00:00Z']) {
      for (const [i, list] of lists.entries()) {
        const page = await get(`${list}?before=${cursor(at)}`, tokens[i]!);
        assert.equal(page.statusCode, 400, `${at} ${list}: ${JSON.stringify(page.body)}`);
        assert.equal(page.body.field, 'querystring.before', `${at} ${list}`);
      }
    }
    for (const at of ['2025-01-01T24:00:00Z', '2024-02-29T23:59:59.999999+15:59', '2000-02-29T00:00:00-03:30']) {
      for (const [i, list] of lists.entries()) assert.equal((await get(`${list}?before=${cursor(at)}`, tokens[i]!)).statusCode, 200, `${at} ${list}`);
    }
  });

  test("the view gateway answers an instant PostgreSQL refuses (22008) as a 400 on `before`, behind the cursor decoder's own check", async () => {
    const query = boardQuery(r.rid, true, 10, { at: '0000-01-01T00:00:00Z', orderId: randomUUID() });
    await assert.rejects(
      t.platform.deps.unitOfWork({ service: 'ordering', tenantId: r.rid, actor: { kind: 'admin', id: randomUUID() } }, (tx) => readView(tx, ORDER_VIEWS.board, query)),
      (error: unknown) => error instanceof ValidationError && error.details.field === 'querystring.before',
    );
  });

  test('a `before` that is not a cursor of an answer is a 400 naming the field', async () => {
    const k = await courier(t);
    for (const before of ['nonsense', Buffer.from('["yesterday","x"]').toString('base64url')]) {
      const page = await get(`/v1/couriers/me/tasks?before=${before}`, k.token);
      assert.equal(page.statusCode, 400, JSON.stringify(page.body));
      assert.equal(page.body.field, 'querystring.before');
    }
  });
});

describe('a courier token whose courier is not registered', () => {
  test('tasks answer 404 as availability does, and both say to ask an admin to register the courier', async () => {
    const token = await t.token('courier', { subject: randomUUID() });
    const tasks = await t.request({ method: 'GET', url: '/v1/couriers/me/tasks', token });
    const availability = await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token, payload: { available: true } });
    for (const res of [tasks, availability]) {
      assert.equal(res.statusCode, 404, res.body);
      assert.equal(res.json().code, 'NOT_FOUND');
      assert.match(res.json().detail ?? res.json().message ?? res.json().title, /ask an admin to register the courier/);
    }
  });
});
