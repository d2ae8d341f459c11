import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { newMessageId } from '../../../src/platform/messaging/index.ts';
import { dispatchOnce, type OrderCommands } from '../../../src/services/delivery/index.ts';
import { enqueueOrder } from '../../../src/services/delivery/operations/enqueueOrder.ts';
import { finishOrder } from '../../../src/services/delivery/operations/finishOrder.ts';
import { holdCourier } from '../../../src/services/delivery/operations/holdCourier.ts';
import { recordCourierAssigned } from '../../../src/services/delivery/operations/recordCourierAssigned.ts';
import { reserveCourier } from '../../../src/services/delivery/operations/reserveCourier.ts';
import { courier } from '../ordering/support.ts';
import { startDeliveryPlatform, type DeliveryPlatform } from './support.ts';

// A courier's POST /v1/couriers/me/availability wakes one waiting order of their city (decision 0041)
// only when it makes them free for the dispatch: not when they were available already, nor while staff
// hold them for a reassignment (decision 0084). Each needless wake made the city's oldest waiting order
// due, the claim skipped the held courier, and the order spent an attempt (then its one revival).
// The same rule for a courier released from an order (releaseCourier: delivered, cancelled, dropped,
// reassigned), found by a later review; the wake comes when the hold ends and leaves them free.

let t: DeliveryPlatform;
let admin: pg.Pool;
const system = { service: 'delivery', actor: { kind: 'system', id: 'delivery-test' } } as const;

before(async () => {
  t = await startDeliveryPlatform();
  admin = new pg.Pool({ connectionString: t.db.url, max: 2 });
});
after(async () => {
  await admin?.end();
  await t?.close();
});

/** Ordering's assign-courier as delivery sees it: records each call. */
function recordingOrders(): { orders: OrderCommands; calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    orders: {
      assignCourier: async ({ orderId }) => void calls.push(orderId),
      unassignCourier: async () => true, orderCourier: async () => ({ courierId: null }),
    },
  };
}

test("a courier held for staff's reassignment, or already available, saying they are available wakes no order: the city's waiting order keeps its attempts (before: each call spent one, then the order died and lost its revival)", async () => {
  const uow = t.platform.deps.unitOfWork;
  const port = recordingOrders();
  const env = { unitOfWork: uow, orders: port.orders };
  // A backoff longer than the test: the order is due again only if something wakes it.
  const options = { backoff: { initialMs: 600_000, maxMs: 600_000 } };
  const k = await courier(t as never, 'Braga');
  const available = (value: boolean) => t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: k.token, payload: { available: value } });
  assert.equal((await available(true)).statusCode, 200);
  // Staff reassign another order to the courier: they are held off the dispatch (holdCourier, 0084).
  // For longer than the backoff: a hold that ends first makes the order due at its end without an
  // attempt (`held`, decision 0041 "a hold's end"); this test wants the attempt and the long backoff.
  await uow(system, (tx) => holdCourier(tx, { tenantId: randomUUID(), orderId: randomUUID(), courierId: k.id, city: 'Braga', leaseMs: 1_200_000 }));
  const order = { tenantId: randomUUID(), orderId: randomUUID() };
  await uow(system, (tx) => enqueueOrder(tx, { ...order, city: 'Braga' }));
  assert.deepEqual(await dispatchOnce(env, options), { outcome: 'deferred', orderId: order.orderId }, 'no free courier: one attempt, then the backoff');
  const attempts = async () => (await admin.query(`select state, attempts, revivals from delivery.dispatch_queue where order_id = $1`, [order.orderId])).rows[0];
  assert.deepEqual(await attempts(), { state: 'queued', attempts: 1, revivals: 0 });

  const steps: string[] = [];
  for (let i = 0; i < 8; i++) {
    // Already available (and held): nothing changes, nothing is woken.
    assert.equal((await available(true)).statusCode, 200);
    steps.push((await dispatchOnce(env, options)).outcome);
  }
  // Offline, then available again while still held: free in name only, the claim would skip them.
  assert.equal((await available(false)).statusCode, 200);
  assert.equal((await available(true)).statusCode, 200);
  steps.push((await dispatchOnce(env, options)).outcome);
  assert.deepEqual(steps, Array(9).fill('idle'), 'the order waits out its backoff');
  assert.deepEqual(await attempts(), { state: 'queued', attempts: 1, revivals: 0 });
  assert.equal((await admin.query('select 1 from delivery.dispatch_alerts')).rowCount, 0);

  // The hold's lease over, the dispatch's sweep asks ordering, which does not have the courier on that
  // order, and ends the hold: the courier is free, which wakes the order, and takes it.
  await admin.query(`update delivery.courier_availability set held_until = now() - interval '1 second' where courier_id = $1`, [k.id]);
  assert.equal((await dispatchOnce(env, options)).outcome, 'hold-ended');
  assert.deepEqual(await dispatchOnce(env, options), { outcome: 'assigned', orderId: order.orderId, courierId: k.id });
  assert.deepEqual(port.calls, [order.orderId]);
});

describe('a courier released from an order while staff hold them for another wakes no order (dispatch review); the end of the hold does', () => {
  const uow = () => t.platform.deps.unitOfWork;
  const row = async (orderId: string) =>
    (await admin.query(`select state, attempts, revivals, next_attempt_at > now() as waiting from delivery.dispatch_queue where order_id = $1`, [orderId])).rows[0];
  /** An order of `city` dead-lettered a minute ago for want of a courier (revivable once), or one backing off for ten minutes. */
  const waiting = async (city: string, kind: 'dead' | 'backing off') => {
    const order = { tenantId: randomUUID(), orderId: randomUUID() };
    await admin.query(
      kind === 'dead'
        ? `insert into delivery.dispatch_queue (tenant_id, order_id, city, state, attempts, finished_at, ready_at) values ($1, $2, $3, 'dead', 8, now() - interval '1 minute', now() - interval '10 minutes')`
        : `insert into delivery.dispatch_queue (tenant_id, order_id, city, state, attempts, next_attempt_at, ready_at) values ($1, $2, $3, 'queued', 3, now() + interval '10 minutes', now() - interval '10 minutes')`,
      [order.tenantId, order.orderId, city],
    );
    return order;
  };
  const courierRow = async (courierId: string) =>
    (await admin.query(`select status, held_until is not null as held from delivery.courier_availability where courier_id = $1`, [courierId])).rows[0];

  for (const kind of ['dead', 'backing off'] as const) {
    test(`a courier delivering their order while held for staff's reassignment of another leaves a ${kind} order of the city as it was (before: ${kind === 'dead' ? 'revived for a courier no claim can take, spending its one revival' : 'made due, to find no courier and spend an attempt'})`, async () => {
      const city = `Guarda-${randomUUID()}`;
      const tenantId = randomUUID();
      const [y, z, c, a] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      const order = await waiting(city, kind);
      const before = await row(order.orderId);
      // C carries Y (C had said they were available), A carries Z; staff reassign Z to C, whose
      // CourierAssigned has not arrived: C is held for Z.
      await admin.query(`insert into delivery.courier_availability (courier_id, city, status) values ($1, $2, 'available'), ($3, $2, 'available')`, [c, city, a]);
      await uow()(system, (tx) => recordCourierAssigned(tx, { tenantId, orderId: y, courierId: c, messageId: newMessageId(), assignment: 1, city }));
      await uow()(system, (tx) => recordCourierAssigned(tx, { tenantId, orderId: z, courierId: a, messageId: newMessageId(), assignment: 1, city }));
      assert.equal(await uow()(system, (tx) => reserveCourier(tx, { tenantId, orderId: z, courierId: c, assignment: 2, city, leaseMs: 600_000 })), 'held');
      // Y is delivered: C is available, but held for Z, so no claim can take them.
      await uow()(system, (tx) => finishOrder(tx, { tenantId, orderId: y, reason: 'delivered' }));
      assert.deepEqual(await courierRow(c), { status: 'available', held: true });
      assert.deepEqual(await row(order.orderId), before, 'the release woke the order for a courier no claim can take');
      // Z's CourierAssigned for C arrives: C takes Z (busy: still nobody to wake), A is released and free, and wakes the order.
      assert.equal(await uow()(system, (tx) => recordCourierAssigned(tx, { tenantId, orderId: z, courierId: c, messageId: newMessageId(), assignment: 2, city })), 'assigned');
      assert.deepEqual(await row(order.orderId), { state: 'queued', attempts: kind === 'dead' ? 0 : 3, revivals: kind === 'dead' ? 1 : 0, waiting: false });
    });
  }

  test("a hold ended by ordering's CourierAssigned that leaves the courier available wakes an order of the city (before: nothing did, the order waited for its backoff and a dead one stayed dead)", async () => {
    const city = `Viseu-${randomUUID()}`;
    const tenantId = randomUUID();
    const [z, c] = [randomUUID(), randomUUID()];
    const order = await waiting(city, 'dead');
    await admin.query(`insert into delivery.courier_availability (courier_id, city, status) values ($1, $2, 'available')`, [c, city]);
    // Staff reassign Z to C (C held for Z); Z is cancelled before its CourierAssigned arrives.
    await uow()(system, (tx) => holdCourier(tx, { tenantId, orderId: z, courierId: c, city, leaseMs: 600_000 }));
    await uow()(system, (tx) => finishOrder(tx, { tenantId, orderId: z, reason: 'cancelled' }));
    assert.deepEqual(await row(order.orderId), { state: 'dead', attempts: 8, revivals: 0, waiting: false });
    // The event, for an order that is over, is ignored and ends the hold: C is free, the dead order revived.
    assert.equal(await uow()(system, (tx) => recordCourierAssigned(tx, { tenantId, orderId: z, courierId: c, messageId: newMessageId(), assignment: 2, city })), 'ignored');
    assert.deepEqual(await courierRow(c), { status: 'available', held: false });
    assert.deepEqual(await row(order.orderId), { state: 'queued', attempts: 0, revivals: 1, waiting: false });
  });
});
