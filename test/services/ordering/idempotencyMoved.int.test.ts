import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { requestHash } from '../../../src/services/ordering/requestHash.ts';
import { customer, holdTable, placeOrder, seedRestaurant, type SeededRestaurant } from './support.ts';

// Decision 0026: a key is the customer's across restaurants. A key is claimed in the transaction of its
// order's restaurant, so the keys of a restaurant moved to its own database (decision 0008) are there,
// and reserved in the shared database first (ordering migration 0037), so that two claims racing at
// restaurants of two databases meet in one unique key.
describe("ordering: an Idempotency-Key used at a moved restaurant holds at every restaurant", () => {
  let t: TestPlatform;
  let target: TestDatabase;
  let moved: SeededRestaurant;
  let stayed: SeededRestaurant;
  before(async () => {
    t = await startTestPlatform();
    target = await createTestDatabase({ empty: true });
    moved = await seedRestaurant(t, 'Moved Tasca');
    stayed = await seedRestaurant(t, 'Stayed Tasca');
    await moveTenant({ tenantId: moved.rid, sourceUrl: t.db.url, targetUrl: target.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
  });
  after(async () => {
    await t?.close();
    await target?.drop();
  });

  const at = (r: SeededRestaurant, quantity = 1) => ({ restaurantId: r.rid, deliveryAddress: 'Rua das Flores 7, Porto', lines: [{ itemId: r.cola, quantity }] });
  /** The key's row in a database: whether it is a reservation, and the order it names. */
  const keyIn = async (url: string, customerId: string, key: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      const { rows } = await client.query<{ reservation: boolean; order_id: string }>(
        'select reservation, order_id from ordering.idempotency_keys where customer_id = $1 and key = $2',
        [customerId, key],
      );
      return rows[0] ?? null;
    } finally {
      await client.end();
    }
  };
  /** Whether a promise has settled, to stop waiting for a lock it never waited on. */
  const settledFlag = (p: Promise<unknown>) => {
    const flag = { settled: false };
    void p.finally(() => (flag.settled = true)).catch(() => undefined);
    return flag;
  };
  /** The orders of a customer in a database's order index. */
  const ordersIn = async (url: string, customerId: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<{ order_id: string }>('select order_id from ordering.order_index where customer_id = $1', [customerId])).rows.map((r) => r.order_id);
    } finally {
      await client.end();
    }
  };

  test('the key of an order at the moved restaurant, sent with another body for a restaurant of the shared database: 422, and nothing placed', async () => {
    const c = await customer(t);
    const key = randomUUID();
    const first = await placeOrder(t, c.token, at(moved), key);
    assert.equal(first.statusCode, 201, first.body);
    assert.deepEqual(await ordersIn(target.url, c.id), [first.json().id], "the order and its key are in the moved restaurant's database");
    // The app learnt of the move at this request (its first at the moved restaurant): the order's
    // transaction found itself in the restaurant's database without a reservation and made one first.
    assert.deepEqual(await keyIn(t.db.url, c.id, key), { reservation: true, order_id: first.json().id }, 'the key is reserved in the shared database');
    assert.deepEqual(await keyIn(target.url, c.id, key), { reservation: false, order_id: first.json().id });

    // Before, the lookup read the shared database only, missed the key and placed a second order.
    const reused = await placeOrder(t, c.token, at(stayed), key);
    assert.deepEqual([reused.statusCode, reused.json().code, reused.json().orderId], [422, 'IDEMPOTENCY_KEY_REUSED', first.json().id], reused.body);
    assert.deepEqual(await ordersIn(t.db.url, c.id), [], 'no order in the shared database');

    const replay = await placeOrder(t, c.token, at(moved), key);
    assert.deepEqual([replay.statusCode, replay.json().id], [200, first.json().id], 'the same body replays the order');
  });

  test('the key of an order at a restaurant of the shared database, sent for the moved restaurant: 422 too', async () => {
    const c = await customer(t);
    const key = randomUUID();
    const first = await placeOrder(t, c.token, at(stayed), key);
    assert.equal(first.statusCode, 201, first.body);
    const reused = await placeOrder(t, c.token, at(moved), key);
    assert.deepEqual([reused.statusCode, reused.json().code, reused.json().orderId], [422, 'IDEMPOTENCY_KEY_REUSED', first.json().id], reused.body);
    assert.deepEqual(await ordersIn(target.url, c.id), []);
  });

  test('a claim at the shared database in flight: the moved restaurant\'s placement of the same key waits for it, then gets 422', async () => {
    const c = await customer(t);
    const key = randomUUID();
    // The shared restaurant's placement claims the key, then waits to index its order: its claim is uncommitted.
    const held = await holdTable(t.db.url, 'ordering.order_index');
    try {
      const atStayed = placeOrder(t, c.token, at(stayed), key);
      assert.ok(await held.waiters(1), 'the shared placement waits on the order index');
      const atMoved = placeOrder(t, c.token, at(moved), key);
      const answered = settledFlag(atMoved);
      // Before the reservation, the moved restaurant's claim went to its own database and was taken at once.
      if (!(await held.waiters(2, () => answered.settled))) assert.fail(`the moved restaurant's placement answered without waiting for the other claim: ${(await atMoved).body}`);
      await held.release();
      const [first, reused] = await Promise.all([atStayed, atMoved]);
      assert.equal(first.statusCode, 201, first.body);
      assert.deepEqual([reused.statusCode, reused.json().code, reused.json().orderId], [422, 'IDEMPOTENCY_KEY_REUSED', first.json().id], reused.body);
      assert.deepEqual(await ordersIn(target.url, c.id), [], "nothing placed in the moved restaurant's database");
    } finally {
      await held.release();
    }
  });

  test("the moved restaurant's placement between its reservation and its claim: another body at the shared database gets 422", async () => {
    const c = await customer(t);
    const key = randomUUID();
    const held = await holdTable(target.url, 'ordering.idempotency_keys');
    try {
      const atMoved = placeOrder(t, c.token, at(moved), key);
      assert.ok(await held.waiters(1), "the moved restaurant's claim waits");
      // Before the reservation, nothing in either database showed the key, and this was placed too.
      const reused = await placeOrder(t, c.token, at(stayed), key);
      assert.deepEqual([reused.statusCode, reused.json().code], [422, 'IDEMPOTENCY_KEY_REUSED'], reused.body);
      await held.release();
      const first = await atMoved;
      assert.equal(first.statusCode, 201, first.body);
      assert.equal(reused.json().orderId, first.json().id, 'the reservation names the order placed under it');
      assert.deepEqual(await ordersIn(t.db.url, c.id), []);
    } finally {
      await held.release();
    }
  });

  test('two identical requests at the moved restaurant, both in flight: one order, 201 then 200', async () => {
    const c = await customer(t);
    const key = randomUUID();
    const held = await holdTable(target.url, 'ordering.idempotency_keys');
    try {
      const one = placeOrder(t, c.token, at(moved, 2), key);
      assert.ok(await held.waiters(1));
      const two = placeOrder(t, c.token, at(moved, 2), key);
      assert.ok(await held.waiters(2), 'the second request found the reservation, no placed order, and claims the same order in the restaurant');
      await held.release();
      const answers = await Promise.all([one, two]);
      assert.deepEqual(answers.map((a) => a.statusCode).sort(), [200, 201], answers.map((a) => a.body).join('\n'));
      assert.equal(answers[0].json().id, answers[1].json().id);
      assert.deepEqual(await ordersIn(target.url, c.id), [answers[0].json().id]);
      assert.deepEqual(await keyIn(t.db.url, c.id, key), { reservation: true, order_id: answers[0].json().id }, 'both went through the one reservation');
    } finally {
      await held.release();
    }
  });

  test('a retry at the moved restaurant that finds the first request\'s reservation, its claim in flight, and the item sold out meanwhile: it answers the first order (200), not 422', async () => {
    const c = await customer(t);
    const key = randomUUID();
    const category = await t.request({ method: 'POST', url: `/v1/restaurants/${moved.rid}/menu/categories`, token: moved.staff, payload: { name: 'Specials' } });
    assert.equal(category.statusCode, 201, category.body);
    const soldOutLater = await t.request({ method: 'POST', url: `/v1/restaurants/${moved.rid}/menu/items`, token: moved.staff, payload: { categoryId: category.json().id, name: 'Last bifana', price: 400 } });
    assert.equal(soldOutLater.statusCode, 201, soldOutLater.body);
    const item = soldOutLater.json().id as string;
    const body = { restaurantId: moved.rid, deliveryAddress: 'Rua das Flores 7, Porto', lines: [{ itemId: item, quantity: 1 }] };
    // The first request reserves the key in the shared database, then waits to claim it in the restaurant's.
    const held = await holdTable(target.url, 'ordering.idempotency_keys');
    try {
      const first = placeOrder(t, c.token, body, key);
      assert.ok(await held.waiters(1), "the first placement's claim waits in the restaurant's database");
      assert.equal((await keyIn(t.db.url, c.id, key))?.reservation, true, 'reserved');
      const sold = await t.request({ method: 'PATCH', url: `/v1/restaurants/${moved.rid}/menu/items/${item}`, token: moved.staff, headers: { 'if-match': '"1"' }, payload: { soldOut: true } });
      assert.equal(sold.statusCode, 200, sold.body);
      // The retry finds the reservation of its body, no placed order yet, and prices again: sold out.
      const retry = placeOrder(t, c.token, body, key);
      const answered = settledFlag(retry);
      await held.waiters(2, () => answered.settled);
      await held.release();
      const [placed, replayed] = await Promise.all([first, retry]);
      assert.equal(placed.statusCode, 201, placed.body);
      // Before, the retry answered 422 MENU_ITEM_SOLD_OUT while the first placed the order.
      assert.deepEqual([replayed.statusCode, replayed.json().id], [200, placed.json().id], replayed.body);
      assert.deepEqual(await ordersIn(target.url, c.id), [placed.json().id]);
    } finally {
      await held.release();
    }
  });

  test('a reservation whose placement failed: the same body places the order it names, another body gets 422', async () => {
    const c = await customer(t);
    const key = randomUUID();
    const body = at(moved, 3);
    const reservedId = randomUUID();
    const shared = new pg.Client({ connectionString: t.db.url });
    await shared.connect();
    try {
      await shared.query('begin');
      await shared.query(`select set_config('brigade.actor_kind', 'admin', true)`);
      await shared.query(
        `insert into ordering.idempotency_keys (customer_id, key, request_hash, order_id, restaurant_id, response_status, reservation, created_at)
         values ($1, $2, $3, $4, $5, 201, true, now() - interval '23 hours')`,
        [c.id, key, requestHash({ ...body, lines: body.lines.map((l) => ({ ...l, modifierIds: [] })) }), reservedId, moved.rid],
      );
      await shared.query('commit');
    } finally {
      await shared.end();
    }
    const other = await placeOrder(t, c.token, at(stayed), key);
    assert.deepEqual([other.statusCode, other.json().code, other.json().orderId], [422, 'IDEMPOTENCY_KEY_REUSED', reservedId], other.body);
    const placed = await placeOrder(t, c.token, body, key);
    assert.deepEqual([placed.statusCode, placed.json().id], [201, reservedId], placed.body);
    const replay = await placeOrder(t, c.token, body, key);
    assert.deepEqual([replay.statusCode, replay.json().id], [200, reservedId], replay.body);
    // The retry renewed the reservation: it holds the key as long as the order's own key does.
    const renewed = new pg.Client({ connectionString: t.db.url });
    await renewed.connect();
    try {
      const { rows } = await renewed.query(`select created_at > now() - interval '1 minute' as fresh from ordering.idempotency_keys where customer_id = $1 and key = $2`, [c.id, key]);
      assert.deepEqual(rows, [{ fresh: true }]);
    } finally {
      await renewed.end();
    }
  });

  test('a body the order refuses at the moved restaurant (a line below zero) reserves nothing: the same key then places a corrected body', async () => {
    const c = await customer(t);
    const key = randomUUID();
    const group = await t.request({
      method: 'POST',
      url: `/v1/restaurants/${moved.rid}/menu/modifier-groups`,
      token: moved.staff,
      payload: { itemId: moved.cola, name: 'Voucher', minChoices: 0, maxChoices: 1, modifiers: [{ name: 'Too generous', priceDelta: -1 }] },
    });
    assert.equal(group.statusCode, 201, group.body);
    // The menu refuses a modifier that takes an item below 0 (decision 0085); one saved before it, or
    // from a console, still reaches ordering, whose own check this is about.
    const sql = new pg.Client({ connectionString: target.url });
    await sql.connect();
    try {
      await sql.query(`update menu.modifiers set price_delta = -1000000 where id = $1`, [group.json().modifiers[0].id]);
    } finally {
      await sql.end();
    }
    const refused = await placeOrder(t, c.token, { ...at(moved), lines: [{ itemId: moved.cola, quantity: 1, modifierIds: [group.json().modifiers[0].id] }] }, key);
    assert.deepEqual([refused.statusCode, refused.json().code], [422, 'ORDER_LINE_PRICE_INVALID'], refused.body);
    assert.equal(await keyIn(t.db.url, c.id, key), null, 'no reservation');
    const corrected = await placeOrder(t, c.token, at(moved), key);
    assert.equal(corrected.statusCode, 201, corrected.body);
  });
});
