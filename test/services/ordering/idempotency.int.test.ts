import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { pruneIdempotencyKeys } from '../../../src/services/ordering/operations/pruneIdempotencyKeys.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { requestHash } from '../../../src/services/ordering/requestHash.ts';
import { command, customer, placeOrder, seedRestaurant, withTableHeld, type SeededRestaurant } from './support.ts';

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
