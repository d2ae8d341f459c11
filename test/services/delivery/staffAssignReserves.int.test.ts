import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { newMessageId, type Message } from '../../../src/platform/messaging/index.ts';
import { dispatchOnce, orderEventsHandler, type OrderCommands } from '../../../src/services/delivery/index.ts';
import { claimAndAssign } from '../../../src/services/delivery/operations/claimAndAssign.ts';
import { enqueueOrder } from '../../../src/services/delivery/operations/enqueueOrder.ts';
import { holdCourier } from '../../../src/services/delivery/operations/holdCourier.ts';
import { recordCourierAssigned } from '../../../src/services/delivery/operations/recordCourierAssigned.ts';
import { reserveCourier } from '../../../src/services/delivery/operations/reserveCourier.ts';
import { orderCommands } from '../../../src/services/ordering/index.ts';
import { command, courier, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../ordering/support.ts';
import { dispatchInvariants, settledOrBlocked } from './dispatchDatabase.ts';
import { startDeliveryPlatform, type DeliveryPlatform } from './support.ts';

// Staff's assign-courier reserves the courier in delivery before ordering records it (decision 0084).
// The outbox relay and delivery's order-events consumer do not run here: ordering's CourierAssigned
// stays in the outbox, the window in which the dispatch used to hand the courier a second order.

let t: DeliveryPlatform;
let admin: pg.Pool;
let r: SeededRestaurant;
const system = { service: 'delivery', actor: { kind: 'system', id: 'delivery-test' } } as const;

before(async () => {
  t = await startDeliveryPlatform();
  admin = new pg.Pool({ connectionString: t.db.url, max: 2 });
  r = await seedRestaurant(t as never, 'Casa Porto');
});
after(async () => {
  await admin?.end();
  await t?.close();
});

/** A courier signed up in Porto, available, the only one available there. */
async function onlyAvailableCourier() {
  await admin.query(`update delivery.courier_availability set status = 'offline' where city = 'Porto' and status = 'available'`);
  const k = await courier(t as never);
  const res = await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: k.token, payload: { available: true } });
  assert.equal(res.statusCode, 200, res.body);
  return k;
}

/** An order placed and accepted (version 2); `ready` also marks it ready (version 3) and queues it for dispatch. */
async function order(ready: boolean): Promise<string> {
  const c = await customer(t as never);
  const placed = await placeOrder(t as never, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 1', lines: [{ itemId: r.cola, quantity: 1 }] });
  assert.equal(placed.statusCode, 201, placed.body);
  const id = placed.json().id as string;
  assert.equal((await command(t as never, r.staff, id, 'accept', 1)).statusCode, 200);
  if (ready) {
    assert.equal((await command(t as never, r.staff, id, 'ready', 2)).statusCode, 200);
    // What OrderReady does in delivery, without waiting for the relay.
    await t.platform.deps.unitOfWork(system, (tx) => enqueueOrder(tx, { tenantId: r.rid, orderId: id, city: 'Porto' }));
  }
  return id;
}

const queueRow = async (orderId: string) =>
  (await admin.query(`select state, courier_id, notified_at is not null as notified from delivery.dispatch_queue where order_id = $1`, [orderId])).rows[0] ?? null;
const courierRow = async (id: string) => (await admin.query(`select status, current_order_id from delivery.courier_availability where courier_id = $1`, [id])).rows[0];

describe('a courier staff assign is off the dispatch from the moment ordering records it', () => {
  test('staff first: the dispatch, which has not seen CourierAssigned yet, gives the courier no second order', async () => {
    const k = await onlyAvailableCourier();
    const y = await order(false);
    const x = await order(true);
    const assigned = await command(t as never, r.staff, y, 'assign-courier', 2, { courierId: k.id });
    assert.equal(assigned.statusCode, 200, assigned.body);
    assert.equal(assigned.json().courierId, k.id);

    const step = await dispatchOnce({ unitOfWork: t.platform.deps.unitOfWork, orders: t.ports(t.platform.deps).orders }, { backoff: { initialMs: 600_000 } });
    assert.deepEqual(step, { outcome: 'deferred', orderId: x }, 'the only courier is staff\'s, on the other order');
    assert.deepEqual(await courierRow(k.id), { status: 'busy', current_order_id: y });
    assert.deepEqual(await queueRow(y), { state: 'assigned', courier_id: k.id, notified: false }, 'reserved, awaiting ordering\'s event');

    // Ordering's CourierAssigned, when it arrives, only confirms the reservation.
    const outcome = await t.platform.deps.unitOfWork(system, (tx) =>
      recordCourierAssigned(tx, { tenantId: r.rid, orderId: y, courierId: k.id, messageId: '01900000-0000-7000-8000-000000000000', assignment: 1, city: 'Porto' }),
    );
    assert.equal(outcome, 'confirmed');
    assert.deepEqual(await queueRow(y), { state: 'assigned', courier_id: k.id, notified: true });
  });

  test('dispatch first (forced interleaving): staff\'s assignment waits for the claim, and the courier takes staff\'s order after the dispatch\'s', async () => {
    const k = await onlyAvailableCourier();
    const y = await order(false);
    await order(true);
    // The claim takes the order that waited longest: this one, or the first test's, which the courier's
    // availability woke. Either way the dispatch's order, not staff's.
    let x = null as string | null;
    let claimed!: () => void;
    let commit!: () => void;
    const didClaim = new Promise<void>((resolve) => (claimed = resolve));
    const released = new Promise<void>((resolve) => (commit = resolve));
    const held = t.platform.deps.unitOfWork(system, async (tx) => {
      const result = await claimAndAssign(tx, { notifyLeaseMs: 600_000 });
      assert.equal(result.job === null ? null : result.courierId, k.id);
      x = result.job!.orderId;
      claimed();
      await released;
    });
    await Promise.race([didClaim, held]);
    const staff = command(t as never, r.staff, y, 'assign-courier', 2, { courierId: k.id });
    const interleaving = await settledOrBlocked(admin, staff).finally(commit);
    await held;
    assert.equal(interleaving, 'blocked', 'staff\'s reservation waits for the claim of the same courier');
    const assigned = await staff;
    assert.equal(assigned.statusCode, 200, assigned.body);

    assert.deepEqual(await courierRow(k.id), { status: 'busy', current_order_id: x }, 'busy with the dispatch\'s order');
    assert.deepEqual(await queueRow(y), { state: 'assigned', courier_id: k.id, notified: false }, 'staff\'s order waits for the courier');
    assert.equal((await queueRow(x!))?.courier_id, k.id);
  });
});

test("a reservation for an order that holds another courier changes nothing of the order: ordering's append may still fail, and the courier it would replace stays busy with the order (before: released at once, while carrying it)", async () => {
  const a = await onlyAvailableCourier();
  const x = await order(true);
  // X is A's (as ordering's CourierAssigned for A leaves it).
  await t.platform.deps.unitOfWork(system, (tx) => recordCourierAssigned(tx, { tenantId: r.rid, orderId: x, courierId: a.id, messageId: null, assignment: 1, city: 'Porto' }));
  assert.deepEqual([(await queueRow(x))?.courier_id, (await courierRow(a.id))?.status], [a.id, 'busy']);
  // Staff reserve B for X; then their append fails (a 412): nothing undoes the reservation.
  const b = await courier(t as never);
  const outcome = await t.platform.deps.unitOfWork(system, (tx) => reserveCourier(tx, { tenantId: r.rid, orderId: x, courierId: b.id, assignment: 2, city: 'Porto', leaseMs: 30_000 }));
  // X's row is not touched; B is only held off the dispatch until ordering's event (see the p2 test below).
  assert.equal(outcome, 'held');
  assert.deepEqual([(await queueRow(x))?.courier_id, (await courierRow(a.id))?.status, (await courierRow(a.id))?.current_order_id], [a.id, 'busy', x], 'A still carries X');
});

test("staff reassign an order the dispatch has just claimed with another courier: the courier they chose is held off the dispatch until ordering's event arrives, so they never get a second order (before: the dispatch gave them one)", async () => {
  // The invariants read every row: start from an empty dispatch (the tests above leave a courier with two orders, as staff may).
  await admin.query('truncate delivery.courier_availability, delivery.dispatch_queue, delivery.assignments, delivery.dispatch_alerts');
  const a = randomUUID();
  const b = randomUUID();
  const tenantId = randomUUID();
  const y = randomUUID();
  const x = randomUUID();
  await admin.query(
    `insert into delivery.courier_availability (courier_id, city, status, available_since) values ($1, 'Faro', 'available', now() - interval '10 minutes'), ($2, 'Faro', 'available', now() - interval '5 minutes')`,
    [a, b],
  );
  const uow = t.platform.deps.unitOfWork;
  await uow(system, (tx) => enqueueOrder(tx, { tenantId, orderId: y, city: 'Faro' }));
  const first = await uow(system, (tx) => claimAndAssign(tx, { notifyLeaseMs: 600_000 }));
  assert.deepEqual([first.job?.orderId, first.job === null ? null : first.courierId], [y, a], 'the dispatch claims Y with A (ordering not told yet)');
  // Staff assign B to Y in ordering, which has no courier for Y yet: the reservation finds Y holding A.
  const outcome = await uow(system, (tx) => reserveCourier(tx, { tenantId, orderId: y, courierId: b, assignment: 1, city: 'Faro', leaseMs: 600_000 }));
  assert.equal(outcome, 'held');
  assert.deepEqual([(await queueRow(y))?.courier_id, (await courierRow(a))?.current_order_id], [a, y], "Y's row is left as it is: ordering's append may still fail");
  // Ordering appended CourierAssigned(Y, B); before it reaches delivery, X becomes ready.
  await uow(system, (tx) => enqueueOrder(tx, { tenantId, orderId: x, city: 'Faro' }));
  const second = await uow(system, (tx) => claimAndAssign(tx, { notifyLeaseMs: 600_000 }));
  assert.equal(second.job?.orderId, x);
  assert.equal(second.job === null ? undefined : second.courierId, null, 'B is held for Y: the claim of X gets no courier');
  const applied = await uow(system, (tx) => recordCourierAssigned(tx, { tenantId, orderId: y, courierId: b, messageId: newMessageId(), assignment: 1, city: 'Faro' }));
  assert.equal(applied, 'assigned');
  assert.deepEqual(await courierRow(b), { status: 'busy', current_order_id: y });
  assert.equal((await admin.query('select held_until from delivery.courier_availability where courier_id = $1', [b])).rows[0].held_until, null, 'the event ends the hold');
  await dispatchInvariants(admin);
  // A, replaced on Y, is free again and takes X.
  const third = await uow(system, (tx) => claimAndAssign(tx, { notifyLeaseMs: 600_000 }));
  assert.deepEqual([third.job?.orderId, third.job === null ? null : third.courierId], [x, a]);
  await dispatchInvariants(admin);
});

test("a hold whose ordering append failed (no event ever comes) ends at the lease's end, when the dispatch's sweep finds ordering without that courier on the order: the courier is dispatched again (it stands until then: before, it lapsed by the clock alone)", async () => {
  await admin.query('truncate delivery.courier_availability, delivery.dispatch_queue, delivery.assignments, delivery.dispatch_alerts');
  const [a, b, tenantId, y, x] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
  await admin.query(`insert into delivery.courier_availability (courier_id, city, status) values ($1, 'Faro', 'available'), ($2, 'Faro', 'available')`, [a, b]);
  const uow = t.platform.deps.unitOfWork;
  await uow(system, (tx) => enqueueOrder(tx, { tenantId, orderId: y, city: 'Faro' }));
  const first = await uow(system, (tx) => claimAndAssign(tx, { notifyLeaseMs: 600_000 }));
  const other = first.job !== null && first.courierId === a ? b : a;
  assert.equal(await uow(system, (tx) => reserveCourier(tx, { tenantId, orderId: y, courierId: other, assignment: 1, city: 'Faro', leaseMs: 600_000 })), 'held');
  // The lease is over (the test moves the hold's clock instead of waiting).
  await admin.query(`update delivery.courier_availability set held_until = now() - interval '1 second' where courier_id = $1`, [other]);
  await uow(system, (tx) => enqueueOrder(tx, { tenantId, orderId: x, city: 'Faro' }));
  // A claim that runs before the sweep has settled the hold (a competing worker) still skips the courier.
  const early = await uow(system, (tx) => claimAndAssign(tx, { notifyLeaseMs: 600_000 }));
  assert.deepEqual([early.job?.orderId, early.job === null ? undefined : early.courierId], [x, null], 'the hold stands until it is settled');
  // The sweep asks ordering, which has no courier on Y (the append failed): the hold ends.
  const sweep = await dispatchOnce({ unitOfWork: uow, orders: t.ports(t.platform.deps).orders }, { backoff: { initialMs: 600_000 } });
  assert.deepEqual(sweep, { outcome: 'hold-ended', orderId: y, courierId: other });
  const second = await uow(system, (tx) => claimAndAssign(tx, { notifyLeaseMs: 600_000 }));
  assert.deepEqual([second.job?.orderId, second.job === null ? null : second.courierId], [x, other]);
  await dispatchInvariants(admin);
});

describe("a reservation ordering never recorded (staff's command refused after it committed) is undone, never carried out", () => {
  const dispatch = () => dispatchOnce({ unitOfWork: t.platform.deps.unitOfWork, orders: t.ports(t.platform.deps).orders }, { backoff: { initialMs: 600_000 } });
  const leaseOver = (orderId: string) => admin.query(`update delivery.dispatch_queue set next_attempt_at = now() - interval '1 second' where order_id = $1`, [orderId]);
  const orderingCourier = async (orderId: string) => {
    const read = await t.request({ method: 'GET', url: `/v1/orders/${orderId}`, token: r.staff });
    assert.equal(read.statusCode, 200, read.body);
    return { courierId: read.json().courierId ?? null, version: read.headers.etag };
  };

  test('a queued order: after the lease the sweep asks ordering, which has no courier: the courier is free and the order queued again, and ordering still shows no courier (before: the sweep assigned it)', async () => {
    await admin.query('truncate delivery.courier_availability, delivery.dispatch_queue, delivery.assignments, delivery.dispatch_alerts');
    const b = await onlyAvailableCourier();
    const y = await order(true);
    const before = await orderingCourier(y);
    // The reservation commits; ordering's append then loses a race (412): staff are told it was refused.
    assert.equal(await t.platform.deps.unitOfWork(system, (tx) => reserveCourier(tx, { tenantId: r.rid, orderId: y, courierId: b.id, assignment: 1, city: 'Porto', leaseMs: 30_000 })), 'assigned');
    await leaseOver(y);
    assert.deepEqual(await dispatch(), { outcome: 'dropped', orderId: y, courierId: b.id });
    assert.deepEqual(await orderingCourier(y), { courierId: null, version: before.version }, 'ordering records nothing');
    assert.deepEqual(await courierRow(b.id), { status: 'available', current_order_id: null });
    assert.deepEqual(await queueRow(y), { state: 'queued', courier_id: null, notified: false });
    await dispatchInvariants(admin);
  });

  test('an order not queued yet: the undone reservation leaves no dispatch until its OrderReady, which queues it', async () => {
    await admin.query('truncate delivery.courier_availability, delivery.dispatch_queue, delivery.assignments, delivery.dispatch_alerts');
    const b = await onlyAvailableCourier();
    const y = await order(false);
    assert.equal(await t.platform.deps.unitOfWork(system, (tx) => reserveCourier(tx, { tenantId: r.rid, orderId: y, courierId: b.id, assignment: 1, city: 'Porto', leaseMs: 30_000 })), 'assigned');
    await leaseOver(y);
    assert.deepEqual(await dispatch(), { outcome: 'dropped', orderId: y, courierId: b.id });
    assert.deepEqual(await courierRow(b.id), { status: 'available', current_order_id: null });
    assert.deepEqual(await queueRow(y), { state: 'dropped', courier_id: null, notified: false }, 'not dispatched before it is ready');
    assert.deepEqual(await dispatch(), { outcome: 'idle' });
    assert.equal(await t.platform.deps.unitOfWork(system, (tx) => enqueueOrder(tx, { tenantId: r.rid, orderId: y, city: 'Porto' })), true);
    assert.deepEqual(await queueRow(y), { state: 'queued', courier_id: null, notified: false });
  });

  test('a reservation ordering did record (its CourierAssigned not arrived within the lease): the sweep confirms it, appending nothing', async () => {
    await admin.query('truncate delivery.courier_availability, delivery.dispatch_queue, delivery.assignments, delivery.dispatch_alerts');
    const b = await onlyAvailableCourier();
    const y = await order(true);
    const assigned = await command(t as never, r.staff, y, 'assign-courier', 3, { courierId: b.id });
    assert.equal(assigned.statusCode, 200, assigned.body);
    const recorded = await orderingCourier(y);
    await leaseOver(y);
    assert.deepEqual(await dispatch(), { outcome: 'assigned', orderId: y, courierId: b.id });
    assert.deepEqual(await orderingCourier(y), recorded);
    assert.deepEqual(await queueRow(y), { state: 'assigned', courier_id: b.id, notified: true });
    assert.deepEqual(await courierRow(b.id), { status: 'busy', current_order_id: y });
    await dispatchInvariants(admin);
  });
});

describe('delivery review: ordering\'s events that reach delivery while a failed reservation awaits its lease', () => {
  const uow = () => t.platform.deps.unitOfWork;
  /** The dispatch as production wires it: ordering's in-process commands, which refuse to replace staff's courier. */
  const dispatch = () => dispatchOnce({ unitOfWork: uow(), orders: orderCommands(t.platform.deps, 'delivery-dispatch') }, { backoff: { initialMs: 600_000 } });
  const leaseOver = (orderId: string) => admin.query(`update delivery.dispatch_queue set next_attempt_at = now() - interval '1 second' where order_id = $1`, [orderId]);
  const reservationRow = async (orderId: string) =>
    (await admin.query(`select state, courier_id, reserved_from, courier_assignment, reserved_assignment from delivery.dispatch_queue where order_id = $1`, [orderId])).rows[0] ?? null;
  const held = async (courierId: string) => (await admin.query(`select held_until is not null as held from delivery.courier_availability where courier_id = $1`, [courierId])).rows[0]?.held === true;
  const orderingCourier = async (orderId: string) => (await t.request({ method: 'GET', url: `/v1/orders/${orderId}`, token: r.staff })).json().courierId ?? null;
  /** Ordering's order event as delivery's consumer receives it (the relay is not running here). */
  const orderEvent = (type: string, payload: Record<string, unknown>): Message => {
    const id = newMessageId();
    return { id, subject: `ordering.order.${type}`, key: String(payload.orderId), headers: { tenant: r.rid, correlation: id, causation: '', traceparent: '' }, payload, attempt: 1 };
  };
  const fresh = () => admin.query('truncate delivery.courier_availability, delivery.dispatch_queue, delivery.assignments, delivery.dispatch_alerts');
  const available = async (k: { token: string }) => {
    const res = await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: k.token, payload: { available: true } });
    assert.equal(res.statusCode, 200, res.body);
  };

  for (const enqueueOn of ['OrderReady', 'OrderAccepted'] as const) {
    test(`the order's ${enqueueOn} handled while the reservation awaits its lease: the undo queues the order and the dispatch assigns it (before: dropped without a courier, never dispatched)`, async () => {
      await fresh();
      const k = await onlyAvailableCourier();
      const handle = orderEventsHandler({ unitOfWork: uow(), restaurants: t.ports(t.platform.deps).restaurants }, { enqueueOn });
      const c = await customer(t as never);
      const placed = await placeOrder(t as never, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 1', lines: [{ itemId: r.cola, quantity: 1 }] });
      const y = placed.json().id as string;
      assert.equal((await command(t as never, r.staff, y, 'accept', 1)).statusCode, 200);
      // Staff assign k while the order's enqueue event is still on its way; the reservation commits, then
      // ordering's append loses a race (412): staff are told it was refused.
      assert.equal(await uow()(system, (tx) => reserveCourier(tx, { tenantId: r.rid, orderId: y, courierId: k.id, assignment: 1, city: 'Porto', leaseMs: 30_000 })), 'assigned');
      if (enqueueOn === 'OrderReady') assert.equal((await command(t as never, r.staff, y, 'ready', 2)).statusCode, 200);
      await handle(orderEvent(enqueueOn, { orderId: y }));
      assert.deepEqual(await queueRow(y), { state: 'assigned', courier_id: k.id, notified: false }, 'the reservation still awaits its lease');
      await leaseOver(y);
      assert.deepEqual(await dispatch(), { outcome: 'dropped', orderId: y, courierId: k.id }, 'ordering has no courier: the reservation is undone');
      assert.deepEqual(await queueRow(y), { state: 'queued', courier_id: null, notified: false }, `the order's ${enqueueOn} was used: the order is queued, not dropped`);
      assert.deepEqual(await dispatch(), { outcome: 'assigned', orderId: y, courierId: k.id });
      assert.equal(await orderingCourier(y), k.id);
      await dispatchInvariants(admin);
    });
  }

  test("ordering's CourierAssigned older than a reservation it never appended is applied, not ignored: the undo no longer leaves ordering's courier free for a second order (before: the dispatch gave them one)", async () => {
    await fresh();
    const a = await courier(t as never);
    await available(a);
    const c = await courier(t as never);
    await available(c);
    const b = await courier(t as never);
    const y = await order(true);
    const claim = await uow()(system, (tx) => claimAndAssign(tx, { notifyLeaseMs: 0 }));
    assert.deepEqual([claim.job?.orderId, claim.job === null ? null : claim.courierId], [y, a.id], 'the dispatch claims Y with A (ordering not told yet)');
    // Staff assign C through ordering: Y holds A, so C is held; the append commits, CourierAssigned(Y, C, 1) stays in the outbox.
    assert.equal((await command(t as never, r.staff, y, 'assign-courier', 3, { courierId: c.id })).statusCode, 200);
    // The dispatch's notice of A is refused (ORDER_COURIER_TAKEN): A is freed, Y dropped.
    assert.deepEqual(await dispatch(), { outcome: 'dropped', orderId: y, courierId: a.id });
    // Staff reassign Y to B (assignment 2): the reservation commits on the dropped row, then the append fails (412).
    assert.equal(await uow()(system, (tx) => reserveCourier(tx, { tenantId: r.rid, orderId: y, courierId: b.id, assignment: 2, city: 'Porto', leaseMs: 30_000 })), 'assigned');
    // CourierAssigned(Y, C, 1) reaches delivery: C is ordering's courier, so C is busy with Y; B, whose
    // assignment 2 may still be appended, is released and held off the dispatch until its lease ends.
    const applied = await uow()(system, (tx) => recordCourierAssigned(tx, { tenantId: r.rid, orderId: y, courierId: c.id, messageId: newMessageId(), assignment: 1, city: 'Porto' }));
    assert.equal(applied, 'assigned');
    assert.deepEqual(await courierRow(c.id), { status: 'busy', current_order_id: y });
    assert.deepEqual(await queueRow(y), { state: 'assigned', courier_id: c.id, notified: true });
    assert.equal(await held(b.id), true, 'B is held: ordering may still record B');
    await dispatchInvariants(admin);
    // The lease ends: nothing is left to settle (ordering's courier is applied), and a new order goes to A, not C.
    await leaseOver(y);
    const x = await order(true);
    assert.deepEqual(await dispatch(), { outcome: 'assigned', orderId: x, courierId: a.id });
    assert.equal(await orderingCourier(y), c.id);
    assert.deepEqual(await courierRow(c.id), { status: 'busy', current_order_id: y });
    await dispatchInvariants(admin);
  });

  test("ordering's older CourierAssigned, then the reservation's own (its append did commit): the reserved courier is held in between, then takes the order (no window in which the dispatch could take them)", async () => {
    await fresh();
    const [tenantId, y, x, b, c] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await admin.query(`insert into delivery.courier_availability (courier_id, city, status) values ($1, 'Faro', 'available'), ($2, 'Faro', 'available')`, [b, c]);
    await uow()(system, (tx) => enqueueOrder(tx, { tenantId, orderId: y, city: 'Faro' }));
    // Ordering recorded C (1) and then B (2); delivery has seen neither: B's reservation comes first.
    assert.equal(await uow()(system, (tx) => reserveCourier(tx, { tenantId, orderId: y, courierId: b, assignment: 2, city: 'Faro', leaseMs: 600_000 })), 'assigned');
    assert.equal(await uow()(system, (tx) => recordCourierAssigned(tx, { tenantId, orderId: y, courierId: c, messageId: newMessageId(), assignment: 1, city: 'Faro' })), 'assigned');
    assert.deepEqual(await courierRow(c), { status: 'busy', current_order_id: y });
    assert.equal(await held(b), true);
    await uow()(system, (tx) => enqueueOrder(tx, { tenantId, orderId: x, city: 'Faro' }));
    const claim = await uow()(system, (tx) => claimAndAssign(tx, { notifyLeaseMs: 600_000 }));
    assert.deepEqual([claim.job?.orderId, claim.job === null ? undefined : claim.courierId], [x, null], 'B is held for Y, C carries Y: X gets no courier');
    assert.equal(await uow()(system, (tx) => recordCourierAssigned(tx, { tenantId, orderId: y, courierId: b, messageId: newMessageId(), assignment: 2, city: 'Faro' })), 'assigned');
    assert.deepEqual(await courierRow(b), { status: 'busy', current_order_id: y });
    assert.equal(await held(b), false, "B's event ends the hold");
    assert.deepEqual(await reservationRow(y), { state: 'assigned', courier_id: b, reserved_from: null, courier_assignment: 2, reserved_assignment: null });
    await dispatchInvariants(admin);
  });

  test("staff assigning the courier the order already holds unconfirmed (a retry after a 412) extend the reservation's lease and number (before: the sweep undid it at the first lease's end)", async () => {
    await fresh();
    const k = await onlyAvailableCourier();
    const y = await order(true);
    const reserve = (assignment: number) => uow()(system, (tx) => reserveCourier(tx, { tenantId: r.rid, orderId: y, courierId: k.id, assignment, city: 'Porto', leaseMs: 30_000 }));
    assert.equal(await reserve(1), 'assigned');
    // The first append failed; the first lease is about to end when staff assign k again (the order's assignment 2 now: say another command came between).
    await leaseOver(y);
    assert.equal(await reserve(2), 'confirmed');
    const row = (await admin.query(`select next_attempt_at > now() + interval '25 seconds' as extended, reserved_from from delivery.dispatch_queue where order_id = $1`, [y])).rows[0];
    assert.deepEqual(row, { extended: true, reserved_from: 'queued' });
    assert.equal((await reservationRow(y)).reserved_assignment, 2);
    assert.deepEqual(await dispatch(), { outcome: 'idle' }, 'the reservation is not due for settling');
    assert.deepEqual(await queueRow(y), { state: 'assigned', courier_id: k.id, notified: false });
  });
});

describe('dispatch review: a reassignment delivery has not seen yet, and holds that outlive their lease', () => {
  const uow = () => t.platform.deps.unitOfWork;
  const fresh = () => admin.query('truncate delivery.courier_availability, delivery.dispatch_queue, delivery.assignments, delivery.dispatch_alerts');
  const availability = async (courierId: string) =>
    (await admin.query(`select status, current_order_id, held_until is not null as held, held_order_id from delivery.courier_availability where courier_id = $1`, [courierId])).rows[0];
  const claim = async () => {
    const result = await uow()(system, (tx) => claimAndAssign(tx, { notifyLeaseMs: 600_000 }));
    return result.job === null ? null : { orderId: result.job.orderId, courierId: result.courierId };
  };

  for (const first of ['staff', 'dispatch'] as const) {
    test(`staff reassign X from C (${first === 'staff' ? "staff's, confirmed" : "the dispatch's, its notice not answered yet"}) to D and back to C before D's CourierAssigned reaches delivery: C is held for X, so D's event frees C to nobody and C never carries two orders (before: the reservation changed nothing, D's event made C available and the dispatch gave C order Y)`, async () => {
      await fresh();
      const [tenantId, x, y, c, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID(), randomUUID()];
      await admin.query(
        `insert into delivery.courier_availability (courier_id, city, status, available_since) values ($1, 'Faro', 'available', now() - interval '10 minutes'), ($2, 'Faro', 'available', now() - interval '5 minutes')`,
        [c, d],
      );
      await uow()(system, (tx) => enqueueOrder(tx, { tenantId, orderId: x, city: 'Faro' }));
      const reserve = (courierId: string, assignment: number) => uow()(system, (tx) => reserveCourier(tx, { tenantId, orderId: x, courierId, assignment, city: 'Faro', leaseMs: 600_000 }));
      const event = (courierId: string, assignment: number) =>
        uow()(system, (tx) => recordCourierAssigned(tx, { tenantId, orderId: x, courierId, messageId: newMessageId(), assignment, city: 'Faro' }));
      // X is C's: ordering recorded C (assignment 1) and delivery applied it, or the dispatch claimed X
      // with C and its notice is on its way (ordering has no courier yet).
      let n = 0;
      if (first === 'staff') {
        assert.equal(await reserve(c, ++n), 'assigned');
        assert.equal(await event(c, n), 'confirmed');
      } else {
        assert.deepEqual(await claim(), { orderId: x, courierId: c });
      }
      const moved = ++n;
      const back = ++n;
      // Staff reassign X to D: X's row holds C, so D is only held. Then back to C, before D's event
      // arrives: ordering has D, so it reserves C again and appends; X's row still shows C.
      assert.equal(await reserve(d, moved), 'held');
      assert.equal(await reserve(c, back), 'held', 'C is held for X: ordering recorded another courier in between');
      assert.deepEqual(await availability(c), { status: 'busy', current_order_id: x, held: true, held_order_id: x });
      // D's CourierAssigned arrives: D takes X, C is released, available but held for X.
      assert.equal(await event(d, moved), 'assigned');
      assert.deepEqual(await availability(d), { status: 'busy', current_order_id: x, held: false, held_order_id: null });
      assert.deepEqual(await availability(c), { status: 'available', current_order_id: null, held: true, held_order_id: x });
      // Y becomes ready before C's CourierAssigned arrives: no courier for it.
      await uow()(system, (tx) => enqueueOrder(tx, { tenantId, orderId: y, city: 'Faro' }));
      assert.deepEqual(await claim(), { orderId: y, courierId: null }, 'ordering has C on X: the claim must not give C order Y');
      // C's CourierAssigned: C takes X back, the hold ends, D is free and takes Y.
      assert.equal(await event(c, back), 'assigned');
      assert.deepEqual(await availability(c), { status: 'busy', current_order_id: x, held: false, held_order_id: null });
      assert.deepEqual(await claim(), { orderId: y, courierId: d });
      await dispatchInvariants(admin);
    });
  }

  /** Ordering's courier on the order, as staff read it. */
  const orderingCourier = async (orderId: string) => (await t.request({ method: 'GET', url: `/v1/orders/${orderId}`, token: r.staff })).json().courierId ?? null;
  const leaseOver = (courierId: string) => admin.query(`update delivery.courier_availability set held_until = now() - interval '1 second' where courier_id = $1`, [courierId]);
  const heldFor = async (courierId: string) =>
    (await admin.query(`select held_until > now() + interval '20 seconds' as extended from delivery.courier_availability where courier_id = $1 and held_until is not null`, [courierId])).rows[0]?.extended ?? null;
  const available = async (k: { token: string }) => {
    const res = await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: k.token, payload: { available: true } });
    assert.equal(res.statusCode, 200, res.body);
  };
  /** A placed, accepted and ready order, queued for dispatch. */
  const readyOrder = () => order(true);

  test("staff's reassignment recorded by ordering, its CourierAssigned still on its way when the hold's lease ends: the sweep asks ordering, finds the chosen courier on the order and keeps them held until the event (before: the hold lapsed and the dispatch gave them a second order)", async () => {
    await fresh();
    const dispatch = () => dispatchOnce({ unitOfWork: uow(), orders: t.ports(t.platform.deps).orders }, { backoff: { initialMs: 600_000 } });
    const a = await courier(t as never);
    await available(a);
    const x = await readyOrder();
    assert.deepEqual(await dispatch(), { outcome: 'assigned', orderId: x, courierId: a.id });
    const d = await courier(t as never);
    await available(d);
    // Staff reassign X to D: ordering records it (assignment 2); its CourierAssigned waits in the outbox
    // (the relay lags past the hold's lease: the test moves the hold's clock instead of waiting 30 s).
    const reassigned = await command(t as never, r.staff, x, 'assign-courier', 4, { courierId: d.id });
    assert.equal(reassigned.statusCode, 200, reassigned.body);
    assert.equal(await orderingCourier(x), d.id);
    await leaseOver(d.id);
    const y = await readyOrder();
    // A claim that runs before the sweep (a competing worker) skips D: the hold stands until settled.
    assert.deepEqual(await claim(), { orderId: y, courierId: null }, 'ordering has D on X: the claim must not give D order Y');
    // The sweep asks ordering, which has D on X: D stays held for another lease.
    assert.deepEqual(await dispatch(), { outcome: 'hold-kept', orderId: x, courierId: d.id });
    assert.equal(await heldFor(d.id), true, 'held for another lease');
    const step = await dispatch();
    assert.ok(step.outcome === 'held' || step.outcome === 'deferred', `Y gets no courier: ${JSON.stringify(step)}`);
    // CourierAssigned(X, D, 2) arrives: D takes X, the hold ends, A is released, free, and takes Y.
    assert.equal(await uow()(system, (tx) => recordCourierAssigned(tx, { tenantId: r.rid, orderId: x, courierId: d.id, messageId: newMessageId(), assignment: 2, city: 'Porto' })), 'assigned');
    assert.equal(await heldFor(d.id), null);
    assert.deepEqual(await dispatch(), { outcome: 'assigned', orderId: y, courierId: a.id });
    assert.equal(await orderingCourier(y), a.id);
    await dispatchInvariants(admin);
  });

  test("a hold whose lease ends while ordering cannot be asked stays, and is asked about again a lease later (before: it lapsed, the courier was dispatched though ordering may have them on the order)", async () => {
    await fresh();
    const [tenantId, y, x, d] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    await admin.query(`insert into delivery.courier_availability (courier_id, city, status) values ($1, 'Faro', 'available')`, [d]);
    // Staff reassigned Y (which holds another courier) to D: D held; the lease is over.
    await uow()(system, (tx) => holdCourier(tx, { tenantId, orderId: y, courierId: d, city: 'Faro', leaseMs: 600_000 }));
    await leaseOver(d);
    const asked: string[] = [];
    const unreachable: OrderCommands = {
      assignCourier: async () => undefined,
      unassignCourier: async () => true, orderCourier: async ({ orderId }) => {
        asked.push(orderId);
        throw new Error('ordering is down');
      },
    };
    assert.deepEqual(await dispatchOnce({ unitOfWork: uow(), orders: unreachable }), { outcome: 'notify-failed', orderId: y, courierId: d });
    assert.deepEqual(asked, [y]);
    assert.equal(await heldFor(d), true, 'still held, asked again after a lease');
    await uow()(system, (tx) => enqueueOrder(tx, { tenantId, orderId: x, city: 'Faro' }));
    assert.deepEqual(await claim(), { orderId: x, courierId: null });
    assert.deepEqual(await dispatchOnce({ unitOfWork: uow(), orders: unreachable }, { backoff: { initialMs: 600_000 } }), { outcome: 'held', orderId: x }, 'not due for another question yet: X waits for the hold, D is not asked about again');
    assert.deepEqual(asked, [y]);
  });
});
