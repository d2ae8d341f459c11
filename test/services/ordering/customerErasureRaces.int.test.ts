import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { customerKeys } from '../../../src/services/platform/index.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { placeOrder, seedRestaurant, type SeededRestaurant } from './support.ts';

const ADDRESS = 'Rua da Corrida 3, 4000-321 Porto';

/**
 * Erasure against a placement of the same customer (decision 0090, Fixed later, forty-seventh
 * session): every interleaving is forced by a lock an owner connection holds, never hoped for.
 */
describe('customer erasure racing a placement (decision 0090)', () => {
  let t: TestPlatform;
  let owner: pg.Pool;
  let r: SeededRestaurant;
  before(async () => {
    t = await startTestPlatform();
    owner = new pg.Pool({ connectionString: t.db.url, max: 4 });
    r = await seedRestaurant(t, 'Races');
  });
  after(async () => {
    await owner?.end();
    await t?.close();
  });

  const signUp = async () => {
    const res = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Rui', email: `race-${randomUUID()}@example.com`, address: 'Rua 1' } });
    assert.equal(res.statusCode, 201, res.body);
    return { id: res.json().id as string, token: res.json().token as string };
  };
  const body = () => ({ restaurantId: r.rid, deliveryAddress: ADDRESS, lines: [{ itemId: r.cola, quantity: 1 }] });
  /** Until a session of the test database waits on a lock in a statement whose text contains `fragment`. */
  const waitsOnLock = async (fragment: string) => {
    for (let i = 0; i < 4000; i++) {
      const { rows } = await owner.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity
          where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid() and strpos(query, $1) > 0`,
        [fragment],
      );
      if (rows[0]!.n > 0) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`no session ever waited on a lock in a statement with ${JSON.stringify(fragment)}`);
  };
  /** An owner transaction holding a lock until `end`. */
  const hold = async (statement: string, values: unknown[]) => {
    const client = await owner.connect();
    await client.query('begin');
    await client.query(statement, values);
    let ended = false;
    return {
      client,
      async end(how: 'commit' | 'rollback' = 'commit') {
        if (ended) return;
        ended = true;
        await client.query(how);
        client.release();
      },
    };
  };
  /** Holds the placement's idempotency-key lock (taken first in its append's batch): it waits there, its customer's key read already. */
  const holdPlacement = (customerId: string, key: string) =>
    hold(`select pg_advisory_xact_lock(hashtext('brigade.idempotency_key'), hashtext($1::text || $2::text))`, [customerId, key]);
  const ordersOf = async (customerId: string) =>
    (await owner.query<{ order_id: string }>('select order_id::text from ordering.order_index where customer_id = $1 order by placed_at', [customerId])).rows.map((row) => row.order_id);
  const staffSees = async (orderId: string) => {
    const res = await t.request({ url: `/v1/orders/${orderId}`, token: r.staff });
    assert.equal(res.statusCode, 200, res.body);
    const { status, cancelledBy, cancelReason, deliveryAddress } = res.json();
    return { status, cancelledBy, cancelReason, deliveryAddress };
  };
  const keyState = async (customerId: string) =>
    (await owner.query<{ destroyed: boolean }>('select key is null as destroyed from platform.customer_keys where customer_id = $1', [customerId])).rows[0];

  test('an order placed while the erasure waits before its own statements is seen: 409, the erasure rolls back whole, and the placement (its check waiting for that) answers 201', async () => {
    const c = await signUp();
    // The erasure's DELETE of the customer row waits on this lock.
    const row = await hold('select 1 from platform.customers where id = $1 for update', [c.id]);
    const erasing = t.request({ method: 'DELETE', url: '/v1/customers/me', token: c.token });
    let placing: ReturnType<typeof placeOrder> | undefined;
    try {
      await waitsOnLock('delete from platform.customers');
      // The order commits; its placement's check then waits for the erasure in progress to end.
      placing = placeOrder(t, c.token, body());
      await waitsOnLock('brigade.customer_erasure');
      const [id] = await ordersOf(c.id);
      await row.end();
      const erased = await erasing;
      assert.equal(erased.statusCode, 409, 'the erasure saw the order');
      assert.deepEqual([erased.json().code, erased.json().orderIds], ['CUSTOMER_HAS_OPEN_ORDERS', [id]], erased.body);
      const placed = await placing;
      assert.deepEqual([placed.statusCode, placed.json().id], [201, id], placed.body);
      assert.equal((await t.request({ url: '/v1/customers/me', token: c.token })).statusCode, 200, 'the customer row is there');
      assert.deepEqual(await keyState(c.id), { destroyed: false });
      assert.deepEqual(await staffSees(id!), { status: 'placed', cancelledBy: null, cancelReason: null, deliveryAddress: ADDRESS });
    } finally {
      await row.end();
      await erasing;
      await placing;
    }
  });

  test("a placement that reads the customer's key while the erasure (its key destroyed) looks for open orders is refused 410; nothing of it stays open", async () => {
    const c = await signUp();
    await customerKeys(t.platform.deps.unitOfWork).keyFor(c.id); // the key exists, as for a customer who ordered before
    // The look-up (the erasure's last statement) waits on the view.
    const view = await hold('lock table ordering.customer_orders_view in access exclusive mode', []);
    const erasing = t.request({ method: 'DELETE', url: '/v1/customers/me', token: c.token });
    let placing: ReturnType<typeof placeOrder> | undefined;
    try {
      await waitsOnLock('customer_orders_view');
      assert.deepEqual(await keyState(c.id), { destroyed: false }, 'not committed yet');
      placing = placeOrder(t, c.token, body());
      await waitsOnLock('platform.customer_keys'); // the key read waits for the erasure's end
      await view.end();
      const erased = await erasing;
      assert.equal(erased.statusCode, 204, erased.body);
      const placed = await placing;
      assert.deepEqual([placed.statusCode, placed.json().code], [410, 'SUBJECT_ERASED'], placed.body);
      // The key read that waited on the erasure's row answers the key its statement's snapshot saw,
      // from before the erasure: the order is appended, and its placement's check cancels it.
      for (const id of await ordersOf(c.id)) assert.equal((await staffSees(id)).status, 'cancelled', `order ${id} is not left open`);
    } finally {
      await view.end();
      await erasing;
      await placing;
    }
  });

  test('a placement that read the key before the erasure and appends after its commit cancels its order at once and answers 410', async () => {
    const c = await signUp();
    const key = randomUUID();
    const gate = await holdPlacement(c.id, key);
    const placing = placeOrder(t, c.token, body(), key);
    try {
      await waitsOnLock('brigade.idempotency_key');
      const erased = await t.request({ method: 'DELETE', url: '/v1/customers/me', token: c.token });
      assert.equal(erased.statusCode, 204, erased.body);
      await gate.end();
      const placed = await placing;
      assert.deepEqual([placed.statusCode, placed.json().code], [410, 'SUBJECT_ERASED'], placed.body);
      const [id] = await ordersOf(c.id);
      assert.ok(id !== undefined, 'the order was recorded (its append committed)');
      assert.deepEqual(await staffSees(id), { status: 'cancelled', cancelledBy: 'system', cancelReason: 'the customer was erased while the order was being placed', deliveryAddress: null });
      const { rows } = await owner.query<{ actor: string }>(
        `select metadata->'actor'->>'id' as actor from ordering.events where stream_id = $1 and type = 'OrderCancelled'`,
        [`order-${id}`],
      );
      assert.deepEqual(rows, [{ actor: 'customer-erasure' }]);
    } finally {
      await gate.end();
      await placing;
    }
  });

  test("a placement that re-checks the key while an erasure is committing waits for it: cancelled when it commits, placed when it rolls back", async () => {
    for (const outcome of ['commit', 'rollback'] as const) {
      const c = await signUp();
      assert.equal((await placeOrder(t, c.token, body())).statusCode, 201); // the key exists
      const key = randomUUID();
      const gate = await holdPlacement(c.id, key);
      const placing = placeOrder(t, c.token, body(), key);
      // Stands for an erasure that destroyed the key and found no open order (the placement had not
      // committed) and has not committed yet: the window the re-check must not read past.
      let erasure: Awaited<ReturnType<typeof hold>> | undefined;
      try {
        await waitsOnLock('brigade.idempotency_key');
        erasure = await hold(`select pg_advisory_xact_lock(hashtext('brigade.customer_erasure'), hashtext($1::text))`, [c.id]);
        await erasure.client.query('update platform.customer_keys set key = null, erased_at = now() where customer_id = $1', [c.id]);
        await gate.end();
        await waitsOnLock('brigade.customer_erasure');
        await erasure.end(outcome);
        const placed = await placing;
        const id = (await ordersOf(c.id))[1]!;
        if (outcome === 'commit') {
          assert.deepEqual([placed.statusCode, placed.json().code], [410, 'SUBJECT_ERASED'], placed.body);
          assert.equal((await staffSees(id)).status, 'cancelled');
        } else {
          assert.equal(placed.statusCode, 201, placed.body);
          assert.deepEqual(await staffSees(id), { status: 'placed', cancelledBy: null, cancelReason: null, deliveryAddress: ADDRESS });
        }
      } finally {
        await gate.end();
        await erasure?.end('rollback');
        await placing;
      }
    }
  });
});
