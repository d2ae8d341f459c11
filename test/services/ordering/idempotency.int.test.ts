import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { pruneIdempotencyKeys } from '../../../src/services/ordering/operations/pruneIdempotencyKeys.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { requestHash } from '../../../src/services/ordering/requestHash.ts';
import { command, customer, holdTable, placeOrder, seedRestaurant, withTableHeld, type SeededRestaurant } from './support.ts';

describe('ordering: Idempotency-Key on POST /v1/orders', () => {
  let t: TestPlatform;
  let r: SeededRestaurant;
  let admin: pg.Client;
  before(async () => {
    t = await startTestPlatform();
    r = await seedRestaurant(t, 'Idempotent');
    admin = new pg.Client({ connectionString: t.db.url });
    await admin.connect();
  });
  after(async () => {
    await admin.end();
    await t.close();
  });

  const body = (overrides: Record<string, unknown> = {}) => ({
    restaurantId: r.rid,
    deliveryAddress: 'Avenida dos Aliados 5, Porto',
    lines: [{ itemId: r.cola, quantity: 2 }],
    ...overrides,
  });
  /** What the database holds for a customer: order index rows and events of their orders. */
  const stored = async (customerId: string) => {
    const orders = (await admin.query<{ order_id: string }>('select order_id from ordering.order_index where customer_id = $1', [customerId])).rows.map((o) => o.order_id);
    const events = (await admin.query<{ n: number }>(`select count(*)::int as n from ordering.events where stream_id = any($1::text[])`, [orders.map((o) => `order-${o}`)])).rows[0]!.n;
    return { orders, events };
  };

  test('same key, same body: 201 then 200 with the same order, even after it moved on and after the item sold out (the menu is not asked again)', async () => {
    const c = await customer(t);
    const key = randomUUID();
    const first = await placeOrder(t, c.token, body(), key);
    assert.equal(first.statusCode, 201, first.body);
    // The same body with its keys in another order is the same request.
    const reordered = { lines: [{ quantity: 2, itemId: r.cola }], deliveryAddress: 'Avenida dos Aliados 5, Porto', restaurantId: r.rid };
    const second = await placeOrder(t, c.token, reordered, key);
    assert.deepEqual([second.statusCode, second.json().id, second.json().version, second.headers.etag], [200, first.json().id, 1, '"1"']);
    assert.deepEqual(second.json(), first.json());

    assert.equal((await command(t, r.staff, first.json().id, 'accept', 1)).statusCode, 200);
    const other = await seedRestaurant(t, 'Sells out');
    const c2 = await customer(t);
    const key2 = randomUUID();
    const before = await placeOrder(t, c2.token, body({ restaurantId: other.rid, lines: [{ itemId: other.cola, quantity: 1 }] }), key2);
    assert.equal(before.statusCode, 201);
    await t.request({ method: 'PATCH', url: `/v1/restaurants/${other.rid}/menu/items/${other.cola}`, token: other.staff, headers: { 'if-match': '"1"' }, payload: { soldOut: true } });
    const replay = await placeOrder(t, c2.token, body({ restaurantId: other.rid, lines: [{ itemId: other.cola, quantity: 1 }] }), key2);
    assert.deepEqual([replay.statusCode, replay.json().id], [200, before.json().id], 'a replay answers from the order, not from the menu');

    const third = await placeOrder(t, c.token, body(), key);
    assert.deepEqual([third.statusCode, third.json().id, third.json().status, third.json().version], [200, first.json().id, 'accepted', 2], 'the replay shows the order as it is now');
    assert.deepEqual(await stored(c.id), { orders: [first.json().id], events: 2 });
  });

  test('same key, different body: 422 IDEMPOTENCY_KEY_REUSED and nothing written; keys are per customer; a missing key is a 400', async () => {
    const c = await customer(t);
    const key = randomUUID();
    const first = await placeOrder(t, c.token, body(), key);
    assert.equal(first.statusCode, 201);
    for (const changed of [body({ deliveryAddress: 'elsewhere' }), body({ lines: [{ itemId: r.cola, quantity: 3 }] }), body({ lines: [{ itemId: r.cola, quantity: 2, modifierIds: [] }, { itemId: r.cola, quantity: 1 }] })]) {
      const res = await placeOrder(t, c.token, changed, key);
      assert.deepEqual([res.statusCode, res.json().code, res.json().orderId], [422, 'IDEMPOTENCY_KEY_REUSED', first.json().id]);
    }
    assert.deepEqual(await stored(c.id), { orders: [first.json().id], events: 1 });

    const other = await customer(t);
    const theirs = await placeOrder(t, other.token, body({ deliveryAddress: 'elsewhere' }), key);
    assert.equal(theirs.statusCode, 201, 'another customer may use the same key string');
    assert.notEqual(theirs.json().id, first.json().id);

    const missing = await t.request({ method: 'POST', url: '/v1/orders', token: c.token, payload: body() });
    assert.deepEqual([missing.statusCode, missing.json().code, missing.json().field], [400, 'VALIDATION_FAILED', 'Idempotency-Key']);
    assert.match(missing.json().detail, /^No Idempotency-Key header was sent; .*1 to 255 visible ASCII characters, no spaces/, missing.body);
    // A key sent but not valid hears what is wrong with it, not "send one".
    const spaced = await placeOrder(t, c.token, body(), 'a b');
    assert.deepEqual([spaced.statusCode, spaced.json().code, spaced.json().field], [400, 'VALIDATION_FAILED', 'Idempotency-Key'], spaced.body);
    assert.match(spaced.json().detail, /^The Idempotency-Key header is not valid: it holds a space; .*1 to 255 visible ASCII characters, no spaces/, spaced.body);
    // A key sent twice (two header lines) is told so. Node joins the lines into "k1, k2", so before it
    // heard "it holds a space", which the client never sent. Over a real socket: inject joins them first.
    const address = await t.platform.app.listen({ host: '127.0.0.1', port: 0 });
    const twice = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(`${address}/v1/orders`, { method: 'POST', headers: { authorization: `Bearer ${c.token}`, 'content-type': 'application/json', 'idempotency-key': ['k-1', 'k-2'] } }, (res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(body()));
    });
    assert.equal(twice.status, 400, twice.body);
    assert.match(JSON.parse(twice.body).detail, /^The Idempotency-Key header is not valid: it was sent more than once/, twice.body);
    // A body with a __proto__ key is refused for that key, on a real route.
    const proto = await t.request({ method: 'POST', url: '/v1/orders', token: c.token, headers: { 'idempotency-key': randomUUID(), 'content-type': 'application/json' }, payload: JSON.stringify(body()).replace(/}$/, ',"__proto__":{"admin":true}}') });
    assert.deepEqual([proto.statusCode, proto.json().code, proto.json().field], [400, 'FORBIDDEN_JSON_KEY', 'body.__proto__'], proto.body);
    assert.deepEqual(await stored(c.id), { orders: [first.json().id], events: 1 });
    const staffPlaces = await placeOrder(t, r.staff, body());
    assert.equal(staffPlaces.statusCode, 403, 'only customers place orders');
  });

  test('concurrent duplicates, forced past the first check into the claim together: one 201, one 200, one order with one event', async () => {
    const c = await customer(t);
    const key = randomUUID();
    const results = await withTableHeld(t, 'ordering.idempotency_keys', 2, () => Promise.all([placeOrder(t, c.token, body(), key), placeOrder(t, c.token, body(), key)]));
    assert.deepEqual(results.map((x) => x.statusCode).sort(), [200, 201], results.map((x) => x.body).join('\n'));
    assert.equal(results[0]!.json().id, results[1]!.json().id);
    assert.deepEqual(await stored(c.id), { orders: [results[0]!.json().id], events: 1 });
  });

  test('concurrent uses of one key with different bodies: one 201, one 422, one order', async () => {
    const c = await customer(t);
    const key = randomUUID();
    const results = await withTableHeld(t, 'ordering.idempotency_keys', 2, () =>
      Promise.all([placeOrder(t, c.token, body(), key), placeOrder(t, c.token, body({ deliveryAddress: 'elsewhere' }), key)]),
    );
    assert.deepEqual(results.map((x) => x.statusCode).sort(), [201, 422]);
    assert.equal((await stored(c.id)).orders.length, 1);
  });

  /** Whether a promise has settled, to stop waiting for a lock it never waited on. */
  const settledFlag = (p: Promise<unknown>) => {
    const flag = { settled: false };
    void p.finally(() => (flag.settled = true)).catch(() => undefined);
    return flag;
  };

  /**
   * Places `payload` under `key` and holds its transaction in flight on `table` (share-locked: with
   * `ordering.idempotency_keys` its batch stops before its claim, with `ordering.order_index` after it),
   * runs `meanwhile`, then sends the same request again and releases the first once the retry waits on
   * a lock or has answered: both answers, and whether the retry waited.
   */
  const retryWhileInFlight = async (table: string, token: string, payload: Record<string, unknown>, key: string, meanwhile: () => Promise<void>) => {
    const held = await holdTable(t.db.url, table);
    try {
      const pending = placeOrder(t, token, payload, key);
      assert.ok(await held.waiters(1), `the first placement waits on ${table}`);
      await meanwhile();
      const again = placeOrder(t, token, payload, key);
      const answered = settledFlag(again);
      const waited = await held.waiters(2, () => answered.settled);
      await held.release();
      const [first, retry] = await Promise.all([pending, again]);
      return { first, retry, waited };
    } finally {
      await held.release();
    }
  };

  test('a retry of a placement in flight, refused by the menu meanwhile (sold out): it waits for the first and answers its order (200), not 422', async () => {
    const rush = await seedRestaurant(t, 'Rush');
    const c = await customer(t);
    const key = randomUUID();
    const payload = body({ restaurantId: rush.rid, lines: [{ itemId: rush.cola, quantity: 1 }] });
    // Held before its claim: only the key's lock shows it in flight.
    const { first, retry, waited } = await retryWhileInFlight('ordering.idempotency_keys', c.token, payload, key, async () => {
      const sold = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rush.rid}/menu/items/${rush.cola}`, token: rush.staff, headers: { 'if-match': '"1"' }, payload: { soldOut: true } });
      assert.equal(sold.statusCode, 200, sold.body);
    });
    assert.equal(first.statusCode, 201, first.body);
    // Before, the retry's lookup missed the uncommitted claim, the menu refused it, and it answered 422 MENU_ITEM_SOLD_OUT at once.
    assert.deepEqual([retry.statusCode, retry.json().id], [200, first.json().id], `the retry said ${retry.statusCode} ${retry.body.slice(0, 200)} while order ${first.json().id} was placed under its key`);
    assert.ok(waited, 'the retry waited on the claim in flight');
    assert.deepEqual(retry.json(), first.json());
    assert.deepEqual(await stored(c.id), { orders: [first.json().id], events: 1 });
    // With nothing in flight, the refusal stands, and the refused key stays free (the probe's claim was rolled back).
    const refusedKey = randomUUID();
    const refused = await placeOrder(t, c.token, payload, refusedKey);
    assert.deepEqual([refused.statusCode, refused.json().code], [422, 'MENU_ITEM_SOLD_OUT'], refused.body);
    assert.equal((await admin.query('select 1 from ordering.idempotency_keys where customer_id = $1 and key = $2', [c.id, refusedKey])).rowCount, 0, 'the refused key holds no row');
    const corrected = await placeOrder(t, c.token, body({ restaurantId: rush.rid, lines: [{ itemId: rush.pizza, quantity: 1, modifierIds: [rush.small] }] }), refusedKey);
    assert.equal(corrected.statusCode, 201, corrected.body);
  });

  test('a retry of a placement in flight with expectedTotal, after a price change: it answers the first order (200), not 409, and one order is placed', async () => {
    const rush = await seedRestaurant(t, 'Reprice');
    const c = await customer(t);
    const key = randomUUID();
    const payload = body({ restaurantId: rush.rid, lines: [{ itemId: rush.cola, quantity: 2 }], expectedTotal: 500 });
    // Held after its claim, before its order index row.
    const { first, retry, waited } = await retryWhileInFlight('ordering.order_index', c.token, payload, key, async () => {
      const repriced = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rush.rid}/menu/items/${rush.cola}`, token: rush.staff, headers: { 'if-match': '"1"' }, payload: { price: 300 } });
      assert.equal(repriced.statusCode, 200, repriced.body);
    });
    assert.deepEqual([first.statusCode, first.json().total], [201, 500], first.body);
    // Before, the retry answered 409 ORDER_TOTAL_CHANGED (total 600); the client confirming 600 under a new key placed a second order.
    assert.deepEqual([retry.statusCode, retry.json().id, retry.json().total], [200, first.json().id, 500], `the retry said ${retry.statusCode} ${retry.body.slice(0, 200)}`);
    assert.ok(waited);
    assert.deepEqual(await stored(c.id), { orders: [first.json().id], events: 1 });
  });

  test('a retry refused by the menu while another body holds the key in flight: the refusal, not a replay of the other body', async () => {
    const rush = await seedRestaurant(t, 'Other body');
    const c = await customer(t);
    const key = randomUUID();
    const payload = body({ restaurantId: rush.rid, lines: [{ itemId: rush.cola, quantity: 1 }] });
    const held = await holdTable(t.db.url, 'ordering.order_index');
    try {
      const pending = placeOrder(t, c.token, { ...payload, deliveryAddress: 'elsewhere' }, key);
      assert.ok(await held.waiters(1));
      const sold = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rush.rid}/menu/items/${rush.cola}`, token: rush.staff, headers: { 'if-match': '"1"' }, payload: { soldOut: true } });
      assert.equal(sold.statusCode, 200, sold.body);
      const other = placeOrder(t, c.token, payload, key);
      const answered = settledFlag(other);
      await held.waiters(2, () => answered.settled);
      await held.release();
      const [first, refused] = await Promise.all([pending, other]);
      assert.equal(first.statusCode, 201, first.body);
      assert.deepEqual([refused.statusCode, refused.json().code], [422, 'MENU_ITEM_SOLD_OUT'], refused.body);
    } finally {
      await held.release();
    }
  });

  test('the same order with its modifiers listed in another order is the same request (200); a key claimed before modifiers were sorted still replays its body as sent', async () => {
    const c = await customer(t);
    const key = randomUUID();
    const withModifiers = (modifierIds: string[]) => body({ lines: [{ itemId: r.pizza, quantity: 1, modifierIds }] });
    const [one, two] = [r.large, r.olives].sort();
    const first = await placeOrder(t, c.token, withModifiers([two!, one!]), key);
    assert.equal(first.statusCode, 201, first.body);
    // Before, the modifiers were hashed in the order sent: 422 IDEMPOTENCY_KEY_REUSED.
    const again = await placeOrder(t, c.token, withModifiers([one!, two!]), key);
    assert.deepEqual([again.statusCode, again.json().id], [200, first.json().id], again.body);
    assert.deepEqual(await stored(c.id), { orders: [first.json().id], events: 1 });
    // Another choice is still another request.
    const changed = await placeOrder(t, c.token, withModifiers([r.small, r.olives]), key);
    assert.deepEqual([changed.statusCode, changed.json().code], [422, 'IDEMPOTENCY_KEY_REUSED'], changed.body);

    // A key claimed before the change holds the hash of its body as sent (modifiers unsorted): the same body still replays.
    const legacyKey = randomUUID();
    const legacy = await placeOrder(t, c.token, withModifiers([two!, one!]), legacyKey);
    assert.equal(legacy.statusCode, 201, legacy.body);
    const asSent = withModifiers([two!, one!]);
    await admin.query('update ordering.idempotency_keys set request_hash = $3 where customer_id = $1 and key = $2', [c.id, legacyKey, requestHash({ ...asSent, expectedTotal: undefined })]);
    const replay = await placeOrder(t, c.token, asSent, legacyKey);
    assert.deepEqual([replay.statusCode, replay.json().id], [200, legacy.json().id], replay.body);
  });

  test('keys expire after 24 h: an expired key places a new order, and the pruner deletes expired keys only', async () => {
    const c = await customer(t);
    const key = randomUUID();
    const first = await placeOrder(t, c.token, body(), key);
    const fresh = await placeOrder(t, c.token, body(), randomUUID());
    assert.deepEqual([first.statusCode, fresh.statusCode], [201, 201]);
    await admin.query(`update ordering.idempotency_keys set created_at = now() - interval '24 hours 1 second' where customer_id = $1 and key = $2`, [c.id, key]);
    const again = await placeOrder(t, c.token, body({ deliveryAddress: 'a new request' }), key);
    assert.equal(again.statusCode, 201, again.body);
    assert.notEqual(again.json().id, first.json().id);
    assert.equal((await placeOrder(t, c.token, body({ deliveryAddress: 'a new request' }), key)).statusCode, 200, 'the key now names the new order');

    await admin.query(`update ordering.idempotency_keys set created_at = now() - interval '25 hours' where customer_id = $1 and key = $2`, [c.id, key]);
    const pruned = await t.platform.deps.unitOfWork({ service: 'ordering', actor: { kind: 'system', id: 'test-pruner' } }, (tx) => pruneIdempotencyKeys(tx));
    assert.ok(pruned >= 1);
    const left = (await admin.query<{ key: string }>('select key from ordering.idempotency_keys where customer_id = $1', [c.id])).rows.map((k) => k.key);
    assert.equal(left.length, 1, 'the unexpired key stays');
    assert.ok(!left.includes(key));
    const asCustomer = await t.platform.deps.unitOfWork({ service: 'ordering', actor: { kind: 'customer', id: c.id } }, (tx) => pruneIdempotencyKeys(tx, 0));
    assert.equal(asCustomer, 1, 'a customer reaches only their own keys (RLS)');
  });

  test('RLS: a customer sees only their own keys and order-index rows', async () => {
    const a = await customer(t);
    const b = await customer(t);
    await placeOrder(t, a.token, body());
    await placeOrder(t, b.token, body());
    const seen = await t.platform.deps.unitOfWork({ service: 'ordering', actor: { kind: 'customer', id: a.id }, readOnly: true }, async (tx) => ({
      keys: (await tx.query<{ customer_id: string }>('select distinct customer_id from ordering.idempotency_keys')).rows.map((x) => x.customer_id),
      orders: (await tx.query<{ customer_id: string }>('select distinct customer_id from ordering.order_index')).rows.map((x) => x.customer_id),
    }));
    assert.deepEqual(seen, { keys: [a.id], orders: [a.id] });
  });
});
