import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { BrigadeError } from '../../../src/platform/errors/index.ts';
import { newMessageId, type Message } from '../../../src/platform/messaging/index.ts';
import { orderEventsHandler } from '../../../src/services/delivery/index.ts';
import { dispatchInvariants, useDispatchDatabase } from './dispatchDatabase.ts';

const db = useDispatchDatabase(2);
const handle = orderEventsHandler({ unitOfWork: db.uow, restaurants: { restaurant: async (id) => ({ id, city: 'Braga' }) } });

function event(type: string, tenant: string, payload: Record<string, unknown>): Message {
  const id = newMessageId();
  return { id, subject: `ordering.order.${type}`, key: String(payload.orderId), headers: { tenant, correlation: id, causation: '', traceparent: '' }, payload, attempt: 1 };
}

const inboxRows = async (id: string) => (await db.admin.query(`select 1 from delivery.inbox where message_id = $1`, [id])).rowCount;
const invalid = (field: string) => (error: unknown) => error instanceof BrigadeError && error.code === 'MESSAGE_INVALID' && (error.details as { field?: string }).field === field;

test('a malformed order event of a subject delivery acts on fails (retried, then dead-lettered) and is not claimed in the inbox; before, it was claimed and dropped', async () => {
  const tenant = randomUUID();
  const ready = event('OrderReady', tenant, { orderId: 'x' });
  await assert.rejects(handle(ready), invalid('orderId'));
  assert.equal(await inboxRows(ready.id), 0);
  const assigned = event('CourierAssigned', tenant, { orderId: randomUUID(), courierId: 'not-a-courier', assignment: 1 });
  await assert.rejects(handle(assigned), invalid('courierId'));
  assert.equal(await inboxRows(assigned.id), 0);
  const cancelled = event('OrderCancelled', 'no-tenant', { orderId: randomUUID() });
  await assert.rejects(handle(cancelled), invalid('tenant header'));
  const delivered = event('OrderDelivered', tenant, {});
  await assert.rejects(handle(delivered), invalid('orderId'));
  assert.equal((await db.admin.query('select 1 from delivery.dispatch_queue')).rowCount, 0);
});

test('order events delivery does not act on are claimed and ignored, whatever their payload; a well-formed OrderReady queues the order', async () => {
  const tenant = randomUUID();
  const placed = event('OrderPlaced', tenant, { orderId: 'x' });
  await handle(placed);
  assert.equal(await inboxRows(placed.id), 1);
  const orderId = randomUUID();
  await handle(event('OrderReady', tenant, { orderId }));
  assert.deepEqual((await db.admin.query('select order_id, city, state from delivery.dispatch_queue')).rows, [{ order_id: orderId, city: 'Braga', state: 'queued' }]);
});

test("an order cancelled after its pick-up (lost in transit) ends its dispatch, and its courier goes offline, not back to dispatch; a cancel before the pick-up frees the courier as before", async () => {
  const tenant = randomUUID();
  /** An available courier of Braga, then made busy with a new order by its OrderReady and CourierAssigned. */
  const carrying = async () => {
    const courierId = randomUUID();
    const orderId = randomUUID();
    await db.admin.query(`insert into delivery.courier_availability (courier_id, city, status) values ($1, 'Braga', 'available')`, [courierId]);
    await handle(event('OrderReady', tenant, { orderId }));
    await handle(event('CourierAssigned', tenant, { orderId, courierId, assignment: 1 }));
    await handle(event('OrderPickedUp', tenant, { orderId, courierId }));
    return { courierId, orderId };
  };
  const courierRow = async (courierId: string) =>
    (await db.admin.query(`select status, current_order_id from delivery.courier_availability where courier_id = $1`, [courierId])).rows[0] as { status: string; current_order_id: string | null };
  const ended = async (orderId: string) => [
    (await db.admin.query(`select state from delivery.dispatch_queue where order_id = $1`, [orderId])).rows[0]?.state,
    (await db.admin.query(`select release_reason from delivery.assignments where order_id = $1 and released_at is not null`, [orderId])).rows[0]?.release_reason,
  ];

  const lost = await carrying();
  assert.equal((await courierRow(lost.courierId)).status, 'busy');
  const lostCancel = event('OrderCancelled', tenant, { orderId: lost.orderId, by: 'admin', reason: 'lost in transit', pickedUpBy: lost.courierId });
  await handle(lostCancel);
  assert.deepEqual(await ended(lost.orderId), ['cancelled', 'cancelled']);
  assert.deepEqual(await courierRow(lost.courierId), { status: 'offline', current_order_id: null }, 'the courier who vanished with it is not handed another order');
  await handle(lostCancel); // a redelivery changes nothing
  assert.equal((await courierRow(lost.courierId)).status, 'offline');

  // Staff had given the courier a second order: they stay on it, and go offline once it ends too
  // (staff cancel it, the courier being gone), not available.
  const twice = await carrying();
  const second = randomUUID();
  await handle(event('OrderReady', tenant, { orderId: second }));
  await handle(event('CourierAssigned', tenant, { orderId: second, courierId: twice.courierId, assignment: 1 }));
  await handle(event('OrderCancelled', tenant, { orderId: twice.orderId, by: 'admin', reason: 'lost in transit', pickedUpBy: twice.courierId }));
  assert.deepEqual(await courierRow(twice.courierId), { status: 'busy', current_order_id: second });
  await handle(event('OrderCancelled', tenant, { orderId: second, by: 'staff', reason: 'courier gone' }));
  assert.deepEqual(await courierRow(twice.courierId), { status: 'offline', current_order_id: null });
  await dispatchInvariants(db.admin);

  // A pickedUpBy that is not a UUID cannot be acted on: retried, then dead-lettered.
  await assert.rejects(handle(event('OrderCancelled', tenant, { orderId: randomUUID(), by: 'admin', reason: 'lost', pickedUpBy: 'someone' })), invalid('pickedUpBy'));

  const early = await carrying();
  await handle(event('OrderCancelled', tenant, { orderId: early.orderId, by: 'staff', reason: 'kitchen closed' }));
  assert.deepEqual(await ended(early.orderId), ['cancelled', 'cancelled']);
  assert.deepEqual(await courierRow(early.courierId), { status: 'available', current_order_id: null });
});
