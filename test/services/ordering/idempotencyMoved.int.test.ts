import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { customer, placeOrder, seedRestaurant, type SeededRestaurant } from './support.ts';

// Decision 0026: a key is the customer's across restaurants. A key is claimed in the transaction of its
// order's restaurant, so the keys of a restaurant moved to its own database (decision 0008) are there.
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

  const at = (r: SeededRestaurant) => ({ restaurantId: r.rid, deliveryAddress: 'Rua das Flores 7, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
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
});
