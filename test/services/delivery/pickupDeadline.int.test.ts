import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { ensureBusSchema } from '../../../src/platform/messaging/index.ts';
import { createRelay } from '../../../src/platform/outbox/index.ts';
import type { ServiceDeps } from '../../../src/platform/runtime/index.ts';
import { dispatchOnce, runOrderEventsConsumer, type DeliveryPorts } from '../../../src/services/delivery/index.ts';
import { command, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../ordering/support.ts';
import { waitFor } from '../../platform/messaging/support.ts';
import { registerCourier as registerCourierOn, startDeliveryPlatform, type DeliveryPlatform } from './support.ts';

/**
 * The pick-up deadline of an assignment (decision 0040, "Fixed later (forty-eighth session …)"): a
 * courier who has not picked up an order PICKUP_DEADLINE_MINUTES after it was both ready and assigned
 * to them is taken off it (the order goes back to dispatch) and off dispatch. Over the real ordering
 * service, its outbox relay, the PostgreSQL transport and delivery's order-events consumer. The clock
 * is driven as the accept deadline's tests drive it: the deadline's due time is brought forward in the
 * database, never waited for.
 */

/** The xmin horizon is cluster-wide: other test files' open transactions delay the relay (decision 0011). */
const DELIVERY_MS = 120_000;
/** The consumer's deadline: long, so that only the tests bring it forward. */
const PICKUP_WITHIN_MS = 30 * 60_000;
let t: DeliveryPlatform;
let admin: pg.Pool;
let r: SeededRestaurant;

before(async () => {
  t = await startDeliveryPlatform();
  admin = new pg.Pool({ connectionString: t.db.url, max: 2 });
  await ensureBusSchema(admin);
  r = await seedRestaurant(t as never, 'Casa Braga');
});
after(async () => {
  await admin?.end();
  await t?.close();
});

const registerCourier = (city: string) => registerCourierOn(t, city, 'Rui');
type Courier = Awaited<ReturnType<typeof registerCourier>>;

const availability = async (k: Courier, available?: boolean) =>
  (available === undefined
    ? await t.request({ method: 'GET', url: '/v1/couriers/me/availability', token: k.token })
    : await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: k.token, payload: { available } })
  ).json() as { status: string; currentOrderId: string | null; afterCurrentOrder: string | null; notice: string | null };

const orderOf = async (orderId: string) => (await t.request({ method: 'GET', url: `/v1/orders/${orderId}`, token: r.staff })).json() as { status: string; courierId: string | null; version: number };
const rowOf = async (orderId: string) =>
  (await admin.query<{ state: string; courier_id: string | null; pickup_due_at: Date | null }>(`select state, courier_id, pickup_due_at from delivery.dispatch_queue where order_id = $1`, [orderId])).rows[0];
/** The order's running pick-up deadline is brought forward to now, the clock alone (returns whether one was running). */
const dueNow = async (orderId: string) => (await admin.query(`update delivery.dispatch_queue set pickup_due_at = now() where order_id = $1 and pickup_due_at is not null`, [orderId])).rowCount === 1;
/**
 * The clock moves a whole window on: the order's running pick-up deadline is brought forward to now,
 * and its courier, if free for it, has been so for longer than the window (returns whether one was running).
 */
async function deadlinePasses(orderId: string): Promise<boolean> {
  await admin.query(
    `update delivery.courier_availability a set current_since = a.current_since - make_interval(secs => $2::double precision / 1000 + 60)
       from delivery.dispatch_queue q where q.order_id = $1 and a.courier_id = q.pickup_courier_id and a.current_order_id = q.order_id`,
    [orderId, PICKUP_WITHIN_MS],
  );
  return dueNow(orderId);
}
/** How far off the order's running pick-up deadline is, in ms (by the database's clock). */
const dueInMs = async (orderId: string) =>
  (await admin.query<{ ms: number }>(`select extract(epoch from pickup_due_at - now()) * 1000 as ms from delivery.dispatch_queue where order_id = $1`, [orderId])).rows[0]!.ms;

/**
 * Runs `fn` with ordering's relay and delivery's order-events consumer (deadline {@link PICKUP_WITHIN_MS})
 * running, a customer, and couriers `k` and `m` of Porto (`k` available first, so the dispatch picks them).
 */
async function withOrderEvents(fn: (env: { deps: ServiceDeps; ports: DeliveryPorts; k: Courier; m: Courier; c: Awaited<ReturnType<typeof customer>> }) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  const deps = t.platform.deps;
  const ports = t.ports(deps);
  const relay = createRelay({ pool: t.platform.databases.poolFor('ordering'), service: 'ordering', transport: deps.transport }).run(stop.signal);
  const consumer = runOrderEventsConsumer({ unitOfWork: deps.unitOfWork, restaurants: ports.restaurants, transport: deps.transport }, stop.signal, { pickupWithinMs: PICKUP_WITHIN_MS });
  try {
    // Each test starts alone: earlier tests' couriers leave, their waiting orders and running deadlines are over.
    await admin.query(`update delivery.courier_availability set status = 'offline' where city = 'Porto' and status = 'available'`);
    await admin.query(`update delivery.dispatch_queue set state = 'cancelled', finished_at = now() where state in ('queued', 'dead')`);
    await admin.query(`update delivery.dispatch_queue set pickup_due_at = null`);
    const k = await registerCourier('Porto');
    assert.equal((await availability(k, true)).status, 'available');
    const m = await registerCourier('Porto');
    assert.equal((await availability(m, true)).status, 'available');
    await fn({ deps, ports, k, m, c: await customer(t as never) });
  } finally {
    stop.abort();
    await Promise.all([relay, consumer]);
  }
}

/** A ready order, queued in delivery (not dispatched). */
async function readyOrder(env: { c: { token: string } }): Promise<string> {
  const placed = await placeOrder(t as never, env.c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 9', lines: [{ itemId: r.cola, quantity: 1 }] });
  assert.equal(placed.statusCode, 201, placed.body);
  const orderId = placed.json().id as string;
  assert.equal((await command(t as never, r.staff, orderId, 'accept', 1)).statusCode, 200);
  assert.equal((await command(t as never, r.staff, orderId, 'ready', 2)).statusCode, 200);
  await waitFor('OrderReady queued the order', async () => (await rowOf(orderId)) !== undefined, DELIVERY_MS);
  return orderId;
}

/** A ready order, queued in delivery, dispatched to the longest-waiting courier and confirmed by ordering: its deadline runs. */
async function assignedOrder(env: { deps: ServiceDeps; ports: DeliveryPorts; c: { token: string } }, courier: Courier): Promise<string> {
  const orderId = await readyOrder(env);
  assert.deepEqual(await dispatchOnce({ unitOfWork: env.deps.unitOfWork, orders: env.ports.orders }), { outcome: 'assigned', orderId, courierId: courier.id });
  await waitFor('CourierAssigned started the pick-up deadline', async () => (await rowOf(orderId))?.pickup_due_at != null, DELIVERY_MS);
  const due = (await rowOf(orderId))!.pickup_due_at!.getTime();
  const now = (await admin.query<{ now: Date }>('select now()')).rows[0]!.now.getTime();
  assert.ok(due > now + PICKUP_WITHIN_MS - 60_000 && due <= now + PICKUP_WITHIN_MS, `due pickupWithinMs after the assignment, not ${due - now} ms from now`);
  return orderId;
}

/** The window passes and the deadline fires: ordering takes `courier` off the order, which goes back to the queue, and they are offline. */
async function missedAndOffline(env: { deps: ServiceDeps; ports: DeliveryPorts }, orderId: string, courier: Courier): Promise<void> {
  assert.ok(await deadlinePasses(orderId));
  assert.deepEqual(await dispatchOnce({ unitOfWork: env.deps.unitOfWork, orders: env.ports.orders }), { outcome: 'pickup-missed', orderId, courierId: courier.id });
  await waitFor('CourierUnassigned queued the order again', async () => (await rowOf(orderId))?.state === 'queued', DELIVERY_MS);
  assert.equal((await availability(courier)).status, 'offline');
}

/** `m` goes offline, and staff give busy `k` a second, ready order ("after their current one"): its deadline runs. */
async function staffGiveBusyCourier(env: { c: { token: string } }, k: Courier, m: Courier): Promise<string> {
  assert.equal((await availability(m, false)).status, 'offline');
  const second = await readyOrder(env);
  assert.equal((await command(t as never, r.staff, second, 'assign-courier', (await orderOf(second)).version, { courierId: k.id })).statusCode, 200);
  await waitFor('CourierAssigned started the pick-up deadline', async () => (await rowOf(second))?.pickup_due_at != null, DELIVERY_MS);
  return second;
}

describe('the pick-up deadline of an assignment', () => {
  test('missed: the order goes back to dispatch without a courier, the courier is taken off dispatch, and the next courier gets it', async () => {
    await withOrderEvents(async (env) => {
      const { deps, ports, k, m } = env;
      const orderId = await assignedOrder(env, k);
      assert.ok(await deadlinePasses(orderId));
      assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders }), { outcome: 'pickup-missed', orderId, courierId: k.id });
      const order = await orderOf(orderId);
      assert.deepEqual([order.status, order.courierId], ['ready', null], 'ordering took the courier off the order');
      await waitFor('CourierUnassigned queued the order again', async () => (await rowOf(orderId))?.state === 'queued', DELIVERY_MS);
      assert.deepEqual(await rowOf(orderId), { state: 'queued', courier_id: null, pickup_due_at: null });
      // Their availability, which their page shows, says why they are offline and what to do.
      const off = await availability(k);
      assert.deepEqual({ ...off, notice: null }, { courierId: k.id, city: 'Porto', status: 'offline', availableSince: null, currentOrderId: null, afterCurrentOrder: null, notice: null } as never);
      assert.equal(
        off.notice,
        `Order ${orderId} was taken off you: it was not picked up within 30 minutes of it being ready and assigned to you, so it went to another courier. You are off dispatch: press "Start taking deliveries" to take orders again.`,
      );
      // The courier who missed it no longer finds the order; the board and their task list show no courier.
      assert.equal((await t.request({ method: 'GET', url: `/v1/orders/${orderId}`, token: k.token })).statusCode, 404);
      // Their stale "Picked up" is refused with words that name the deadline and the way back.
      const stale = await command(t as never, k.token, orderId, 'pick-up', (await orderOf(orderId)).version);
      assert.equal(stale.statusCode, 404);
      assert.match(stale.json().detail, /taken off you because it was not picked up in time: then your availability says so, and you take no orders until you press "Start taking deliveries"/);
      // The dispatch gives it to the other courier, not back to the one who missed it.
      assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders }), { outcome: 'assigned', orderId, courierId: m.id });
      await waitFor('the new assignment starts a deadline of its own', async () => (await rowOf(orderId))?.pickup_due_at != null, DELIVERY_MS);
      const version = (await orderOf(orderId)).version;
      assert.equal((await command(t as never, m.token, orderId, 'pick-up', version)).statusCode, 200);
      // The events say what happened, in order.
      const events = (await t.request({ method: 'GET', url: `/v1/orders/${orderId}/events`, token: r.staff })).json().events as Array<{ type: string; data: Record<string, unknown> }>;
      assert.deepEqual(
        events.filter((e) => e.type.startsWith('Courier')).map((e) => [e.type, e.data.courierId, e.data.assignment]),
        [
          ['CourierAssigned', k.id, 1],
          ['CourierUnassigned', k.id, 1],
          ['CourierAssigned', m.id, 2],
        ],
      );
      // The courier who missed it is back when they say so, and the notice ends.
      assert.deepEqual([(await availability(k, true)).status, (await availability(k)).notice], ['available', null]);
    });
  });

  test('picked up in time: the deadline does nothing', async () => {
    await withOrderEvents(async (env) => {
      const { deps, ports, k } = env;
      const orderId = await assignedOrder(env, k);
      const version = (await orderOf(orderId)).version;
      assert.equal((await command(t as never, k.token, orderId, 'pick-up', version)).statusCode, 200);
      assert.ok(await deadlinePasses(orderId), 'delivery does not hear of the pick-up: ordering decides when the deadline fires');
      assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders }), { outcome: 'pickup-settled', orderId, courierId: k.id });
      const order = await orderOf(orderId);
      assert.deepEqual([order.status, order.courierId, order.version], ['picked_up', k.id, version + 1], 'nothing appended');
      assert.deepEqual(await rowOf(orderId), { state: 'assigned', courier_id: k.id, pickup_due_at: null }, 'the deadline is over');
      assert.deepEqual([(await availability(k)).status, (await availability(k)).currentOrderId], ['busy', orderId]);
      assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders }), { outcome: 'idle' }, 'it does not fire again');
    });
  });

  test('reassigned by staff: the old assignment’s deadline does nothing, the new one has its own', async () => {
    await withOrderEvents(async (env) => {
      const { deps, ports, k, m } = env;
      const orderId = await assignedOrder(env, k);
      const oldDue = (await rowOf(orderId))!.pickup_due_at!;
      // The old deadline is due and claimed by a worker; staff reassign the order to m while its call to ordering is on its way.
      assert.ok(await deadlinePasses(orderId));
      const version = (await orderOf(orderId)).version;
      const racing: DeliveryPorts['orders'] = {
        ...ports.orders,
        unassignCourier: async (input, cause) => {
          assert.equal((await command(t as never, r.staff, orderId, 'assign-courier', version, { courierId: m.id })).statusCode, 200);
          return ports.orders.unassignCourier(input, cause);
        },
      };
      // Fired before delivery heard of the reassignment: ordering decides, for assignment 1 of k, that it
      // is over, and the deadline is settled, not missed (before: reported as `pickup-missed`).
      assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: racing }), { outcome: 'pickup-settled', orderId, courierId: k.id });
      assert.equal((await orderOf(orderId)).version, version + 1, 'nothing appended for the old assignment');
      await waitFor('CourierAssigned of m reached delivery', async () => (await rowOf(orderId))?.courier_id === m.id, DELIVERY_MS);
      const row = (await rowOf(orderId))!;
      assert.ok(row.pickup_due_at !== null && row.pickup_due_at.getTime() > oldDue.getTime() - 1, 'the new assignment runs a deadline of its own, not the old, passed one');
      assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders }), { outcome: 'idle' }, 'nothing due: the passed deadline was the old assignment’s');
      assert.deepEqual([(await orderOf(orderId)).courierId, (await availability(m)).status, (await availability(k)).status], [m.id, 'busy', 'available'], 'k was released by the reassignment, not taken off dispatch');
    });
  });

  test('a deadline claimed by a worker that died fires again after its lease, from another process (durable)', async () => {
    await withOrderEvents(async (env) => {
      const { deps, ports, k } = env;
      const orderId = await assignedOrder(env, k);
      assert.ok(await deadlinePasses(orderId));
      // A worker claims it and dies before ordering answers: its command fails as a crash would leave it.
      const failing = { ...ports.orders, unassignCourier: async () => Promise.reject(new Error('process killed')) };
      assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: failing }), { outcome: 'notify-failed', orderId, courierId: k.id });
      const leased = await admin.query(`select 1 from delivery.dispatch_queue where order_id = $1 and pickup_due_at > now()`, [orderId]);
      assert.equal(leased.rowCount, 1, 'pushed a lease on: not fired again at once');
      assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders }), { outcome: 'idle' });
      // The lease ends: a new worker (a restarted process, state only in the database) fires it.
      await missedAndOffline(env, orderId, k);
    });
  });

  test('cancelled before the deadline: the deadline does nothing, the courier is freed as before', async () => {
    await withOrderEvents(async (env) => {
      const { deps, ports, k } = env;
      const orderId = await assignedOrder(env, k);
      const version = (await orderOf(orderId)).version;
      assert.equal((await command(t as never, r.staff, orderId, 'cancel', version, { reason: 'kitchen fire' })).statusCode, 200);
      await waitFor('OrderCancelled ended the dispatch', async () => (await rowOf(orderId))?.state === 'cancelled', DELIVERY_MS);
      await deadlinePasses(orderId);
      assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders }), { outcome: 'idle' });
      assert.equal((await availability(k)).status, 'available');
    });
  });
  test('a courier staff gave the order while they carried another: the deadline counts from when that order ends, and a courier busy delivering is neither taken off it nor off dispatch', async () => {
    await withOrderEvents(async (env) => {
      const { deps, ports, k, m } = env;
      const first = await assignedOrder(env, k);
      assert.equal((await command(t as never, k.token, first, 'pick-up', (await orderOf(first)).version)).statusCode, 200);
      // m leaves: only staff's choice gives the second order a courier. Staff give it to k, who is busy
      // ("takes this order after their current one", staff's picker).
      const second = await staffGiveBusyCourier(env, k, m);
      // The window passes while k is still delivering the first order: the deadline waits, a window on.
      assert.ok(await dueNow(second));
      assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders }), { outcome: 'pickup-waits', orderId: second, courierId: k.id });
      assert.ok((await dueInMs(second)) > PICKUP_WITHIN_MS - 60_000, 'moved a whole window on');
      assert.equal((await orderOf(second)).courierId, k.id, 'ordering was not asked to take k off');
      assert.deepEqual(await availability(k), { courierId: k.id, city: 'Porto', status: 'busy', availableSince: null, currentOrderId: first, afterCurrentOrder: 'available', notice: null } as never);
      // k delivers the first order and moves on to the second: the window counts from now.
      assert.equal((await command(t as never, k.token, first, 'deliver', (await orderOf(first)).version)).statusCode, 200);
      await waitFor('OrderDelivered moved k on to the second order', async () => (await availability(k)).currentOrderId === second, DELIVERY_MS);
      assert.ok(await dueNow(second));
      assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders }), { outcome: 'pickup-waits', orderId: second, courierId: k.id });
      assert.ok((await dueInMs(second)) > PICKUP_WITHIN_MS - 60_000, 'a window after k became free for it');
      // A whole window after k became free for it, they have still not picked it up: missed, as for any courier.
      await missedAndOffline(env, second, k);
    });
  });

  test('a deadline that fires while its courier carries another order (started before the window waited for them) takes them off that order only, not off dispatch', async () => {
    await withOrderEvents(async (env) => {
      const { ports, k, m } = env;
      const first = await assignedOrder(env, k);
      const second = await staffGiveBusyCourier(env, k, m);
      // As a worker of the previous release fired it: ordering takes k off the second order.
      await ports.orders.unassignCourier({ restaurantId: r.rid, orderId: second, courierId: k.id, assignment: 1, reason: 'not picked up in time' });
      await waitFor('CourierUnassigned queued the order again', async () => (await rowOf(second))?.state === 'queued', DELIVERY_MS);
      assert.deepEqual(await availability(k), { courierId: k.id, city: 'Porto', status: 'busy', availableSince: null, currentOrderId: first, afterCurrentOrder: 'available', notice: null } as never);
    });
  });

  test('migration 0027: an order ready and assigned before 0025 gets a deadline; one staff assigned before it was ready is left alone', async () => {
    await withOrderEvents(async (env) => {
      const { deps, ports, k, m } = env;
      const inFlight = await assignedOrder(env, k);
      // Staff give m an order that is not ready yet: delivery's row has no cause and no readiness.
      const placed = await placeOrder(t as never, env.c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 9', lines: [{ itemId: r.cola, quantity: 1 }] });
      const early = placed.json().id as string;
      assert.equal((await command(t as never, r.staff, early, 'accept', 1)).statusCode, 200);
      assert.equal((await command(t as never, r.staff, early, 'assign-courier', 2, { courierId: m.id })).statusCode, 200);
      await waitFor('CourierAssigned of m reached delivery', async () => (await rowOf(early))?.courier_id === m.id, DELIVERY_MS);
      // The rows as 0025 found them: its columns empty, the OrderReady consumed long ago.
      await admin.query(
        `update delivery.dispatch_queue set order_ready_at = null, pickup_due_at = null, pickup_courier_id = null, pickup_assignment = null where order_id = any($1::uuid[])`,
        [[inFlight, early]],
      );
      const migration = await readFile(new URL('../../../src/services/delivery/migrations/0027_pickup_deadline_follow_up.sql', import.meta.url), 'utf8');
      const client = await admin.connect();
      try {
        await client.query('begin');
        await client.query(migration);
        await client.query('commit');
      } finally {
        client.release();
      }
      const rows = await admin.query<{ order_id: string; ready: boolean; pickup_courier_id: string | null; pickup_assignment: number | null }>(
        `select order_id, order_ready_at = ready_at as ready, pickup_courier_id, pickup_assignment from delivery.dispatch_queue where order_id = any($1::uuid[])`,
        [[inFlight, early]],
      );
      const byId = new Map(rows.rows.map((row) => [row.order_id, row]));
      assert.deepEqual({ ...byId.get(inFlight) }, { order_id: inFlight, ready: true, pickup_courier_id: k.id, pickup_assignment: 1 });
      assert.deepEqual({ ...byId.get(early) }, { order_id: early, ready: null, pickup_courier_id: null, pickup_assignment: null });
      const due = await dueInMs(inFlight);
      assert.ok(due > 15 * 60_000 - 60_000 && due <= 15 * 60_000, `the default window from the migration, not ${due} ms`);
      assert.ok(await deadlinePasses(inFlight));
      assert.deepEqual(await dispatchOnce({ unitOfWork: deps.unitOfWork, orders: ports.orders }), { outcome: 'pickup-missed', orderId: inFlight, courierId: k.id });
    });
  });
});

/**
 * Revoking a courier's tokens (decision 0040 and 0007, "Fixed later (forty-ninth session, 7 Dec
 * 2026)"): the orders assigned to them that they have not picked up go back to dispatch at once,
 * through the deadline's own path (ordering's `unassign-courier`, CourierUnassigned), not a whole
 * window later; the order they picked up stays theirs (they carry the food).
 */
describe("revoking a courier's tokens", () => {
  const revoke = async (courierId: string) => {
    const res = await t.request({ method: 'POST', url: '/v1/admin/token-revocations', token: await t.token('admin', { subject: 'ops' }), payload: { role: 'courier', subject: courierId, reason: 'left' } });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json() as { takenOffDispatch?: string }).takenOffDispatch ?? '';
  };
  const asAdmin = async (courierId: string) =>
    (await t.request({ method: 'GET', url: `/v1/couriers/${courierId}/availability`, token: await t.token('admin', { subject: 'ops' }) })).json() as {
      status: string;
      currentOrderId: string | null;
      afterCurrentOrder: string | null;
      notice: string | null;
    };
  const courierEvents = async (orderId: string) =>
    ((await t.request({ method: 'GET', url: `/v1/orders/${orderId}/events`, token: r.staff })).json().events as Array<{ type: string; data: Record<string, unknown> }>)
      .filter((e) => e.type.startsWith('Courier'))
      .map((e) => [e.type, e.data.courierId, e.data.assignment, ...(e.type === 'CourierUnassigned' ? [e.data.reason] : [])]);
  /**
   * A ready order staff gave `courier` (their CourierAssigned started its deadline). Not the dispatch's:
   * an earlier test's CourierUnassigned, applied by this test's consumer, may queue an order of its own.
   */
  const staffAssigned = async (env: { c: { token: string } }, courier: Courier) => {
    const orderId = await readyOrder(env);
    assert.equal((await command(t as never, r.staff, orderId, 'assign-courier', (await orderOf(orderId)).version, { courierId: courier.id })).statusCode, 200);
    await waitFor('CourierAssigned started the pick-up deadline', async () => (await rowOf(orderId))?.pickup_due_at != null, DELIVERY_MS);
    return orderId;
  };

  test('a courier assigned a ready order is revoked: ordering takes them off it at once (CourierUnassigned), delivery queues it again, the courier is offline without a missed pick-up notice (before: it waited for the pick-up deadline)', async () => {
    await withOrderEvents(async (env) => {
      const { k } = env;
      const orderId = await staffAssigned(env, k);
      const said = await revoke(k.id);
      assert.match(said, new RegExp(`Order ${orderId}, which they had not picked up, went back to dispatch at once`), said);
      const order = await orderOf(orderId);
      assert.deepEqual([order.status, order.courierId], ['ready', null], 'ordering took the courier off the order before the revocation answered');
      assert.deepEqual(await courierEvents(orderId), [
        ['CourierAssigned', k.id, 1],
        ['CourierUnassigned', k.id, 1, 'courier tokens revoked'],
      ]);
      await waitFor('CourierUnassigned queued the order again', async () => (await rowOf(orderId))?.state === 'queued', DELIVERY_MS);
      assert.deepEqual(await rowOf(orderId), { state: 'queued', courier_id: null, pickup_due_at: null });
      assert.deepEqual(await asAdmin(k.id), { courierId: k.id, city: 'Porto', status: 'offline', availableSince: null, currentOrderId: null, afterCurrentOrder: null, notice: null } as never);
    });
  });

  test('the order the revoked courier picked up stays theirs; the one staff gave them after it, not picked up, goes back to dispatch', async () => {
    await withOrderEvents(async (env) => {
      const { k, m } = env;
      const carried = await staffAssigned(env, k);
      assert.equal((await command(t as never, k.token, carried, 'pick-up', (await orderOf(carried)).version)).statusCode, 200);
      const second = await staffGiveBusyCourier(env, k, m);
      const pickedVersion = (await orderOf(carried)).version;
      const said = await revoke(k.id);
      assert.match(said, new RegExp(`Order ${second}, which they had not picked up, went back to dispatch at once`), said);
      assert.match(said, new RegExp(`after order ${carried}, which they carry`), said);
      assert.deepEqual([(await orderOf(second)).status, (await orderOf(second)).courierId], ['ready', null]);
      await waitFor('CourierUnassigned queued the second order again', async () => (await rowOf(second))?.state === 'queued', DELIVERY_MS);
      const kept = await orderOf(carried);
      assert.deepEqual([kept.status, kept.courierId, kept.version], ['picked_up', k.id, pickedVersion], 'nothing appended to the picked-up order');
      assert.deepEqual((await rowOf(carried))?.state, 'assigned');
      assert.deepEqual(await courierEvents(carried), [['CourierAssigned', k.id, 1]]);
      const off = await asAdmin(k.id);
      assert.deepEqual([off.status, off.currentOrderId, off.afterCurrentOrder, off.notice], ['busy', carried, 'offline', null]);
    });
  });
});
