import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { dispatchOnce, type OrderCommands } from '../../../src/services/delivery/index.ts';
import { enqueueOrder } from '../../../src/services/delivery/operations/enqueueOrder.ts';
import { holdCourier } from '../../../src/services/delivery/operations/holdCourier.ts';
import { courier } from '../ordering/support.ts';
import { startDeliveryPlatform, type DeliveryPlatform } from './support.ts';

// A courier's POST /v1/couriers/me/availability wakes one waiting order of their city (decision 0041)
// only when it makes them free for the dispatch: not when they were available already, nor while staff
// hold them for a reassignment (decision 0084). Each needless wake made the city's oldest waiting order
// due, the claim skipped the held courier, and the order spent an attempt (then its one revival).

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
      orderCourier: async () => ({ courierId: null }),
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

  // The hold over (it expired), a courier coming back from offline is free: the order is woken and theirs.
  await admin.query(`update delivery.courier_availability set held_until = now() - interval '1 second' where courier_id = $1`, [k.id]);
  assert.equal((await available(false)).statusCode, 200);
  assert.equal((await available(true)).statusCode, 200);
  assert.deepEqual(await dispatchOnce(env, options), { outcome: 'assigned', orderId: order.orderId, courierId: k.id });
  assert.deepEqual(port.calls, [order.orderId]);
});
