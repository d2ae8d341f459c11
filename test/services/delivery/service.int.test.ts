import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { BrigadeError } from '../../../src/platform/errors/index.ts';
import { ensureBusSchema } from '../../../src/platform/messaging/index.ts';
import { createRelay } from '../../../src/platform/outbox/index.ts';
import type { ServiceDeps } from '../../../src/platform/runtime/index.ts';
import { dispatchOnce, runOrderEventsConsumer, type DeliveryPorts } from '../../../src/services/delivery/index.ts';
import { command, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../ordering/support.ts';
import { waitFor } from '../../platform/messaging/support.ts';
import { registerCourier as registerCourierOn, startDeliveryPlatform, type DeliveryPlatform } from './support.ts';

/** The xmin horizon is cluster-wide: other test files' open transactions delay the relay (decision 0011). */
const DELIVERY_MS = 120_000;
let t: DeliveryPlatform;
let admin: pg.Pool;
let r: SeededRestaurant;

before(async () => {
  t = await startDeliveryPlatform();
  admin = new pg.Pool({ connectionString: t.db.url, max: 2 });
  await ensureBusSchema(admin);
  // seedRestaurant takes the TestPlatform surface: request and token.
  r = await seedRestaurant(t as never, 'Casa Porto');
});
after(async () => {
  await admin?.end();
  await t?.close();
});

/** Registers a courier in `city` through the platform's admin route; returns id and token. */
const registerCourier = (city: string) => registerCourierOn(t, city);

const availability = (token: string, available?: boolean) =>
  available === undefined
    ? t.request({ method: 'GET', url: '/v1/couriers/me/availability', token })
    : t.request({ method: 'POST', url: '/v1/couriers/me/availability', token, payload: { available } });

describe('courier availability route', () => {
  test('a courier goes available in their own city, reads it back, goes offline; toggling available keeps the place in line', async () => {
    const k = await registerCourier('Porto');
    const never = await availability(k.token);
    assert.equal(never.statusCode, 200, never.body);
    assert.deepEqual(never.json(), { courierId: k.id, city: 'Porto', status: 'offline', availableSince: null, currentOrderId: null, afterCurrentOrder: null, notice: null });
    const on = await availability(k.token, true);
    assert.equal(on.statusCode, 200, on.body);
    assert.deepEqual([on.json().status, on.json().city, on.json().currentOrderId, on.json().afterCurrentOrder], ['available', 'Porto', null, null]);
    const again = await availability(k.token, true);
    assert.equal(again.json().availableSince, on.json().availableSince, 'saying available again keeps the wait');
    assert.deepEqual((await availability(k.token)).json(), on.json());
    const off = await availability(k.token, false);
    assert.deepEqual([off.json().status, off.json().availableSince], ['offline', null], 'availableSince is null unless available (before: the time they went offline)');
    const back = await availability(k.token, true);
    assert.ok(Date.parse(back.json().availableSince) > Date.parse(on.json().availableSince), 'back from offline: the wait starts again');
  });

  test('who may: no token 401, another role 403, a courier unknown to the directory 404, a bad body 400', async () => {
    assert.equal((await t.request({ method: 'POST', url: '/v1/couriers/me/availability', payload: { available: true } })).statusCode, 401);
    const staff = await t.token('staff', { subject: randomUUID(), restaurantId: r.rid });
    assert.equal((await availability(staff, true)).statusCode, 403);
    const ghost = await t.token('courier', { subject: randomUUID() });
    assert.equal((await availability(ghost, true)).statusCode, 404);
    const k = await registerCourier('Porto');
    assert.equal((await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: k.token, payload: { available: 'yes' } })).statusCode, 400);
  });

  test('a courier sees only their own row (RLS), and cannot make themselves busy', async () => {
    const a = await registerCourier('Porto');
    const b = await registerCourier('Porto');
    assert.equal((await availability(a.token, true)).statusCode, 200);
    const uow = t.platform.deps.unitOfWork;
    const seen = await uow({ service: 'delivery', actor: { kind: 'courier', id: b.id }, readOnly: true }, (tx) =>
      tx.query('select courier_id from delivery.courier_availability where courier_id = $1', [a.id]),
    );
    assert.equal(seen.rowCount, 0);
    await assert.rejects(
      uow({ service: 'delivery', actor: { kind: 'courier', id: a.id } }, (tx) =>
        tx.query(`update delivery.courier_availability set status = 'busy', current_order_id = $2, current_tenant_id = $2 where courier_id = $1`, [a.id, randomUUID()]),
      ),
      // Refused by the trigger of delivery migration 0023 (a courier changes only released_status of a busy row), before the policy.
      /may change only what they become when it ends/,
    );
    assert.equal((await availability(a.token, false)).statusCode, 200);
  });
});

/**
 * Runs `fn` with ordering's outbox relay and delivery's order-events consumer running, a customer,
 * and a courier `k` who is the only one available in Porto (the couriers of earlier tests leave).
 */
async function withOrderEvents(
  fn: (env: {
    deps: ServiceDeps;
    ports: DeliveryPorts;
    k: Awaited<ReturnType<typeof registerCourier>>;
    c: Awaited<ReturnType<typeof customer>>;
    /** Stops ordering's relay (events stay in its outbox: the bus's lag) and starts it again. */
    relay: { pause: () => Promise<void>; resume: () => void };
  }) => Promise<void>,
): Promise<void> {
  const stop = new AbortController();
  const deps = t.platform.deps;
  const ports = t.ports(deps);
  let relayStop = new AbortController();
  const startRelay = () => createRelay({ pool: t.platform.databases.poolFor('ordering'), service: 'ordering', transport: deps.transport }).run(relayStop.signal);
  let relay = startRelay();
  const control = {
    pause: async () => {
      relayStop.abort();
      await relay;
    },
    resume: () => {
      relayStop = new AbortController();
      relay = startRelay();
    },
  };
  const consumer = runOrderEventsConsumer({ unitOfWork: deps.unitOfWork, restaurants: ports.restaurants, transport: deps.transport }, stop.signal);
  try {
    await admin.query(`update delivery.courier_availability set status = 'offline' where city = 'Porto' and status = 'available'`);
    const k = await registerCourier('Porto');
    assert.equal((await availability(k.token, true)).statusCode, 200);
    await fn({ deps, ports, k, c: await customer(t as never), relay: control });
  } finally {
    stop.abort();
    relayStop.abort();
    await Promise.all([relay, consumer]);
  }
}

/** Places an order as the customer of `token`, accepts and readies it; returns its id once OrderReady has queued it in delivery. */
async function queuedOrder(token: string, deliveryAddress: string): Promise<string> {
  const placed = await placeOrder(t as never, token, { restaurantId: r.rid, deliveryAddress, lines: [{ itemId: r.cola, quantity: 1 }] });
  assert.equal(placed.statusCode, 201, placed.body);
  const id = placed.json().id as string;
  assert.equal((await command(t as never, r.staff, id, 'accept', 1)).statusCode, 200);
  assert.equal((await command(t as never, r.staff, id, 'ready', 2)).statusCode, 200);
  await waitFor('OrderReady queued the order', async () => (await admin.query(`select 1 from delivery.dispatch_queue where order_id = $1`, [id])).rowCount === 1, DELIVERY_MS);
  return id;
}

describe('OrderReady → dispatch queue → courier assigned in ordering → delivered frees the courier', () => {
  test('end to end through the outbox relay, the PostgreSQL transport and the inbox consumer', async () => {
    await withOrderEvents(async ({ deps, ports, k, c }) => {
      const placed = await placeOrder(t as never, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 1', lines: [{ itemId: r.cola, quantity: 1 }] });
      assert.equal(placed.statusCode, 201, placed.body);
      const orderId = placed.json().id as string;
      assert.equal((await command(t as never, r.staff, orderId, 'accept', 1)).statusCode, 200);
      assert.equal((await command(t as never, r.staff, orderId, 'ready', 2)).statusCode, 200);

      const queued = async () => (await admin.query(`select tenant_id, city, state from delivery.dispatch_queue where order_id = $1`, [orderId])).rows;
      await waitFor('OrderReady queued the order', async () => (await queued()).length === 1, DELIVERY_MS);
      assert.deepEqual(await queued(), [{ tenant_id: r.rid, city: 'Porto', state: 'queued' }]);

      const step = await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders });
      assert.deepEqual(step, { outcome: 'assigned', orderId, courierId: k.id });
      const order = await t.request({ method: 'GET', url: `/v1/orders/${orderId}`, token: k.token });
      assert.equal(order.statusCode, 200, order.body);
      assert.equal(order.json().courierId, k.id, 'ordering has the courier');
      assert.equal((await availability(k.token)).json().status, 'busy');
      // A busy courier who stops is taken at their word for when the order ends; changing their mind again is too.
      const offline = await availability(k.token, false);
      assert.equal(offline.statusCode, 200, offline.body);
      assert.deepEqual([offline.json().status, offline.json().currentOrderId, offline.json().afterCurrentOrder], ['busy', orderId, 'offline']);
      const onAgain = await availability(k.token, true);
      assert.deepEqual([onAgain.statusCode, onAgain.json().status, onAgain.json().afterCurrentOrder], [200, 'busy', 'available']);

      // Telling ordering again (a retry after a lost acknowledgement) appends nothing.
      const version = order.json().version as number;
      await ports.orders.assignCourier({ restaurantId: r.rid, orderId, courierId: k.id });
      const reread = await t.request({ method: 'GET', url: `/v1/orders/${orderId}`, token: k.token });
      assert.equal(reread.json().version, version);

      assert.equal((await command(t as never, k.token, orderId, 'pick-up', version)).statusCode, 200);
      // The same notice after pick-up (its acknowledgement lost, its lease run out) is done, not refused:
      // a refusal made the dispatch drop the assignment and free a courier still carrying the order.
      await ports.orders.assignCourier({ restaurantId: r.rid, orderId, courierId: k.id });
      assert.equal((await availability(k.token)).json().status, 'busy');
      assert.equal((await command(t as never, k.token, orderId, 'deliver', version + 1)).statusCode, 200);
      await waitFor('OrderDelivered freed the courier', async () => (await availability(k.token)).json().status === 'available', DELIVERY_MS);
      assert.deepEqual(await queued(), [{ tenant_id: r.rid, city: 'Porto', state: 'delivered' }]);
      const claims = await admin.query<{ subject: string }>(`select subject from delivery.inbox where subscription = 'delivery-dispatch' order by handled_at`);
      assert.ok(claims.rows.some((x) => x.subject === 'ordering.order.OrderReady'));
      assert.ok(claims.rows.some((x) => x.subject === 'ordering.order.OrderDelivered'));
    });
  });

  test('a courier staff assign through ordering is busy in delivery: the dispatch gives them no other order until they deliver', async () => {
    await withOrderEvents(async ({ deps, ports, k, c }) => {
      const ready = () => queuedOrder(c.token, 'Rua 2');
      const first = await ready();
      // Staff choose the courier before the dispatch runs.
      assert.equal((await command(t as never, r.staff, first, 'assign-courier', 3, { courierId: k.id })).statusCode, 200);
      await waitFor('CourierAssigned made the courier busy', async () => (await availability(k.token)).json().status === 'busy', DELIVERY_MS);
      assert.equal((await availability(k.token)).json().currentOrderId, first);
      const second = await ready();
      const dispatch = () => dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders }, { backoff: { initialMs: 600_000 } });
      assert.deepEqual(await dispatch(), { outcome: 'deferred', orderId: second }, 'the first order is settled; the only courier is busy');

      assert.equal((await command(t as never, k.token, first, 'pick-up', 4)).statusCode, 200);
      assert.equal((await command(t as never, k.token, first, 'deliver', 5)).statusCode, 200);
      await waitFor('OrderDelivered freed the courier', async () => (await availability(k.token)).json().status === 'available', DELIVERY_MS);
      assert.deepEqual(await dispatch(), { outcome: 'assigned', orderId: second, courierId: k.id }, 'the freed courier woke the waiting order');
    });
  });
});

describe('a courier who has just delivered, while OrderDelivered is still on its way to delivery', () => {
  /**
   * Courier `k` is dispatched an order, picks it up, and delivers it with ordering's relay paused: the
   * OrderDelivered stays in ordering's outbox, so delivery still has `k` busy with the order, as it does
   * for the milliseconds to seconds the relay, the bus and the inbox take (longer when the relay lags).
   */
  async function deliveredUnheard({ deps, ports, k, c, relay }: Parameters<Parameters<typeof withOrderEvents>[0]>[0]): Promise<string> {
    const orderId = await queuedOrder(c.token, 'Rua 4');
    assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders }), { outcome: 'assigned', orderId, courierId: k.id });
    const version = (await t.request({ method: 'GET', url: `/v1/orders/${orderId}`, token: k.token })).json().version as number;
    assert.equal((await command(t as never, k.token, orderId, 'pick-up', version)).statusCode, 200);
    await relay.pause();
    const delivered = await command(t as never, k.token, orderId, 'deliver', version + 1);
    assert.equal(delivered.statusCode, 200, delivered.body);
    const now = (await availability(k.token)).json();
    assert.deepEqual([now.status, now.currentOrderId], ['busy', orderId], 'delivery has not heard of the delivery yet');
    return orderId;
  }

  /**
   * {@link deliveredUnheard}, then the courier says `available` at once: the answer is 200, busy with
   * the order, and what they become after it (the GET says the same). Then the relay runs again;
   * returns the courier's availability once delivery has consumed OrderDelivered.
   */
  async function sayRightAfterDelivering(env: Parameters<Parameters<typeof withOrderEvents>[0]>[0], available: boolean) {
    const orderId = await deliveredUnheard(env);
    const said = await availability(env.k.token, available);
    assert.equal(said.statusCode, 200, said.body);
    assert.deepEqual([said.json().status, said.json().currentOrderId, said.json().afterCurrentOrder], ['busy', orderId, available ? 'available' : 'offline']);
    assert.deepEqual((await availability(env.k.token)).json(), said.json(), 'the GET says the same');
    env.relay.resume();
    await waitFor('OrderDelivered released the courier', async () => (await availability(env.k.token)).json().status !== 'busy', DELIVERY_MS);
    return (await availability(env.k.token)).json();
  }

  test("stopping at once is answered 200, busy and offline after the order, and the courier is offline once delivery consumes OrderDelivered (before: 422 COURIER_BUSY, 'deliver it first')", async () => {
    await withOrderEvents(async (env) => {
      const after = await sayRightAfterDelivering(env, false);
      assert.deepEqual([after.status, after.currentOrderId, after.afterCurrentOrder], ['offline', null, null]);
      const row = await admin.query(`select released_status from delivery.courier_availability where courier_id = $1`, [env.k.id]);
      assert.deepEqual(row.rows, [{ released_status: 'available' }], 'the next order starts from the default again');
    });
  });

  test('saying available at once is answered 200, busy and available after the order, and the courier is available once delivery consumes OrderDelivered (before: 422 COURIER_BUSY)', async () => {
    await withOrderEvents(async (env) => {
      const after = await sayRightAfterDelivering(env, true);
      assert.deepEqual([after.status, after.currentOrderId, after.afterCurrentOrder], ['available', null, null]);
    });
  });
});

test("the harness's ordering port is production's: a dispatch notice for an order staff gave another courier is refused with 422 ORDER_COURIER_TAKEN (before: ordering's HTTP assign-courier as an admin reassigned it)", async () => {
  const c = await customer(t as never);
  const placed = await placeOrder(t as never, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 3', lines: [{ itemId: r.cola, quantity: 1 }] });
  const orderId = placed.json().id as string;
  assert.equal((await command(t as never, r.staff, orderId, 'accept', 1)).statusCode, 200);
  const chosen = await registerCourier('Porto');
  const dispatched = await registerCourier('Porto');
  assert.equal((await command(t as never, r.staff, orderId, 'assign-courier', 2, { courierId: chosen.id })).statusCode, 200);
  await assert.rejects(
    t.ports(t.platform.deps).orders.assignCourier({ restaurantId: r.rid, orderId, courierId: dispatched.id }),
    (error: unknown) => error instanceof BrigadeError && error.status === 422 && error.code === 'ORDER_COURIER_TAKEN',
  );
  const order = await t.request({ method: 'GET', url: `/v1/orders/${orderId}`, token: r.staff });
  assert.equal(order.json().courierId, chosen.id, "staff's courier stays");
});
