import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Tx } from '../../../src/platform/db/index.ts';
import { dispatchOnce, type DispatchOptions, type OrderCommands } from '../../../src/services/delivery/index.ts';
import { setAvailability } from '../../../src/services/delivery/operations/availability.ts';
import { finishOrder } from '../../../src/services/delivery/operations/finishOrder.ts';
import { reserveCourier } from '../../../src/services/delivery/operations/reserveCourier.ts';
import { wakeOneInCity } from '../../../src/services/delivery/operations/wakeCity.ts';
import { dispatchInvariants, useDispatchDatabase } from './dispatchDatabase.ts';

// Decision 0041, "Later": a dead-lettered order is dispatched again when a courier of its city becomes
// available (goes online, or is freed by a delivery or a cancel), through the ordinary claim.

const db = useDispatchDatabase(10);
const uow = db.uow;

const system = { service: 'delivery', actor: { kind: 'system', id: 'delivery-test' } } as const;
/** One attempt: an order with no courier in its city is dead-lettered at once. */
const dieFast: DispatchOptions = { maxAttempts: 1 };

/** Ordering's assign-courier as delivery sees it: records each call. */
function recordingOrders() {
  const calls: Array<{ orderId: string; courierId: string }> = [];
  const orders: OrderCommands = {
    assignCourier: async ({ orderId, courierId }) => void calls.push({ orderId, courierId }),
    unassignCourier: async () => true, orderCourier: async ({ orderId }) => ({ courierId: calls.findLast((c) => c.orderId === orderId)?.courierId ?? null }),
  };
  return { orders, calls, env: { unitOfWork: uow, orders } };
}

/** Queues an order of `city`, ready `agoS` seconds ago, due now. */
async function addOrder(city: string, agoS = 100): Promise<{ tenantId: string; orderId: string }> {
  const order = { tenantId: randomUUID(), orderId: randomUUID() };
  await db.admin.query(
    `insert into delivery.dispatch_queue (tenant_id, order_id, city, ready_at, next_attempt_at) values ($1, $2, $3, now() - make_interval(secs => $4), now() - interval '1 second')`,
    [order.tenantId, order.orderId, city, agoS],
  );
  return order;
}

/** What the availability route does: the courier marks themselves available, then (as the system, after that commit) wakes the city if that made them free. */
async function goOnline(courierId: string, city: string): Promise<void> {
  const change = await uow({ service: 'delivery', actor: { kind: 'courier', id: courierId } }, (tx) => setAvailability(tx, { courierId, city, available: true }));
  assert.equal(change.becameFree, true);
  await uow(system, (tx) => wakeOneInCity(tx, city));
}

async function queueRow(orderId: string) {
  return (await db.admin.query(`select state, courier_id, revivals from delivery.dispatch_queue where order_id = $1`, [orderId])).rows[0];
}

async function courierRow(courierId: string) {
  return (await db.admin.query(`select status, current_order_id from delivery.courier_availability where courier_id = $1`, [courierId])).rows[0];
}

describe('a dead order is dispatched again when a courier of its city becomes available', () => {
  test('a courier going online gets the dead order, through the claim and the notice to ordering', async () => {
    const port = recordingOrders();
    const order = await addOrder('Coimbra');
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'dead', orderId: order.orderId });
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'idle' });
    const courier = randomUUID();
    await goOnline(courier, 'Coimbra');
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'assigned', orderId: order.orderId, courierId: courier });
    assert.deepEqual(port.calls, [{ orderId: order.orderId, courierId: courier }], 'ordering told, as for any assignment (its CourierAssigned clears the alert)');
    assert.deepEqual(await queueRow(order.orderId), { state: 'assigned', courier_id: courier, revivals: 1 });
    assert.deepEqual(await courierRow(courier), { status: 'busy', current_order_id: order.orderId });
    await dispatchInvariants(db.admin);
  });

  test('a courier freed by a delivery gets the dead order', async () => {
    const port = recordingOrders();
    const carried = await addOrder('Leiria', 500);
    const courier = randomUUID();
    await db.admin.query(`insert into delivery.courier_availability (courier_id, city, status) values ($1, 'Leiria', 'available')`, [courier]);
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'assigned', orderId: carried.orderId, courierId: courier });
    const order = await addOrder('Leiria');
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'dead', orderId: order.orderId });
    await uow(system, (tx) => finishOrder(tx, { tenantId: carried.tenantId, orderId: carried.orderId, reason: 'delivered' }));
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'assigned', orderId: order.orderId, courierId: courier });
    await dispatchInvariants(db.admin);
  });

  test('a courier of another city does not revive it', async () => {
    const port = recordingOrders();
    const order = await addOrder('Tomar');
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'dead', orderId: order.orderId });
    const elsewhere = randomUUID();
    await goOnline(elsewhere, 'Setubal');
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'idle' });
    assert.deepEqual(await queueRow(order.orderId), { state: 'dead', courier_id: null, revivals: 0 });
    assert.deepEqual(await courierRow(elsewhere), { status: 'available', current_order_id: null });
    assert.deepEqual(port.calls, []);
  });

  test('a dead order cancelled meanwhile is not dispatched; the courier stays available', async () => {
    const port = recordingOrders();
    const order = await addOrder('Sines');
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'dead', orderId: order.orderId });
    await uow(system, (tx) => finishOrder(tx, { tenantId: order.tenantId, orderId: order.orderId, reason: 'cancelled' }));
    const courier = randomUUID();
    await goOnline(courier, 'Sines');
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'idle' });
    assert.deepEqual(await queueRow(order.orderId), { state: 'cancelled', courier_id: null, revivals: 0 });
    assert.deepEqual(await courierRow(courier), { status: 'available', current_order_id: null });
    assert.deepEqual(port.calls, []);
  });

  test('oldest dead order first; an order dead again after its second round stays dead', async () => {
    const port = recordingOrders();
    const older = await addOrder('Elvas', 300);
    const newer = await addOrder('Elvas', 200);
    assert.equal((await dispatchOnce(port.env, dieFast)).outcome, 'dead');
    assert.equal((await dispatchOnce(port.env, dieFast)).outcome, 'dead');
    const courier = randomUUID();
    await goOnline(courier, 'Elvas');
    assert.deepEqual(await queueRow(older.orderId), { state: 'queued', courier_id: null, revivals: 1 });
    assert.deepEqual(await queueRow(newer.orderId), { state: 'dead', courier_id: null, revivals: 0 }, 'one order per courier');
    // The courier goes offline before the claim: the revived order's second round ends without a courier.
    await uow({ service: 'delivery', actor: { kind: 'courier', id: courier } }, (tx) => setAvailability(tx, { courierId: courier, city: 'Elvas', available: false }));
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'dead', orderId: older.orderId });
    const alerts = await db.admin.query(`select order_id from delivery.dispatch_alerts order by raised_at`);
    assert.deepEqual(alerts.rows.map((r) => r.order_id), [older.orderId, newer.orderId, older.orderId], 'a second death raises a second alert');
    // Back online: the order that died twice stays dead; the other one is revived and assigned.
    await goOnline(courier, 'Elvas');
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'assigned', orderId: newer.orderId, courierId: courier });
    assert.deepEqual(await queueRow(older.orderId), { state: 'dead', courier_id: null, revivals: 1 });
    assert.deepEqual(port.calls, [{ orderId: newer.orderId, courierId: courier }]);
  });

  test('two couriers freed at once revive two dead orders, one each', async () => {
    const port = recordingOrders();
    const carriers = [randomUUID(), randomUUID()];
    await db.admin.query(`insert into delivery.courier_availability (courier_id, city, status) select unnest($1::uuid[]), 'Faro', 'available'`, [carriers]);
    const carried = [await addOrder('Faro', 900), await addOrder('Faro', 800)];
    for (let i = 0; i < 2; i++) assert.equal((await dispatchOnce(port.env, dieFast)).outcome, 'assigned');
    const dead = [await addOrder('Faro', 300), await addOrder('Faro', 200), await addOrder('Faro', 100)];
    for (let i = 0; i < 3; i++) assert.equal((await dispatchOnce(port.env, dieFast)).outcome, 'dead');
    await Promise.all(carried.map((o) => uow(system, (tx) => finishOrder(tx, { tenantId: o.tenantId, orderId: o.orderId, reason: 'delivered' }))));
    const steps = await Promise.all([dispatchOnce(port.env, dieFast), dispatchOnce(port.env, dieFast)]);
    assert.deepEqual(steps.map((s) => s.outcome), ['assigned', 'assigned']);
    const states = await Promise.all(dead.map((o) => queueRow(o.orderId)));
    assert.deepEqual(states.map((s) => s.state), ['assigned', 'assigned', 'dead'], 'the two oldest');
    assert.deepEqual(new Set(states.slice(0, 2).map((s) => s.courier_id)), new Set(carriers));
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'idle' });
    await dispatchInvariants(db.admin);
  });

  test('staff assign another courier to the dead order while a release revives it: staff\'s courier holds it, the freed one gets nothing (forced interleaving)', async () => {
    const port = recordingOrders();
    const freed = randomUUID();
    const staffs = randomUUID();
    await db.admin.query(`insert into delivery.courier_availability (courier_id, city, status) values ($1, 'Braga', 'available')`, [freed]);
    const carried = await addOrder('Braga', 900);
    assert.equal((await dispatchOnce(port.env, dieFast)).outcome, 'assigned');
    const order = await addOrder('Braga');
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'dead', orderId: order.orderId });
    // The release (which revives the order) is held open; staff's reservation waits for the order's row.
    let revived!: () => void;
    let commit!: () => void;
    const didRevive = new Promise<void>((resolve) => (revived = resolve));
    const release = new Promise<void>((resolve) => (commit = resolve));
    const held = uow(system, async (tx: Tx) => {
      await finishOrder(tx, { tenantId: carried.tenantId, orderId: carried.orderId, reason: 'delivered' });
      revived();
      await release;
    });
    await didRevive;
    const reservation = uow(system, (tx) => reserveCourier(tx, { tenantId: order.tenantId, orderId: order.orderId, courierId: staffs, assignment: 1, city: 'Braga', leaseMs: 30_000 }));
    try {
      await blocked(reservation);
    } finally {
      commit();
      await held;
    }
    assert.equal(await reservation, 'assigned');
    assert.deepEqual(await dispatchOnce(port.env, dieFast), { outcome: 'idle' }, 'the order is staff\'s: nothing to claim');
    assert.deepEqual(await queueRow(order.orderId), { state: 'assigned', courier_id: staffs, revivals: 1 });
    assert.deepEqual(await courierRow(freed), { status: 'available', current_order_id: null });
    assert.deepEqual(await courierRow(staffs), { status: 'busy', current_order_id: order.orderId });
    await dispatchInvariants(db.admin);
  });
});

/** Waits until `promise`'s transaction waits for a lock (it must not settle first). */
async function blocked(promise: Promise<unknown>): Promise<void> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 3000; i++) {
    assert.equal(settled, false, 'the reservation did not wait for the revived order');
    const waiting = await db.admin.query(`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
    if ((waiting.rowCount ?? 0) >= 1) return;
    await sleep(10);
  }
  throw new Error('the reservation neither ended nor waited for a lock');
}
