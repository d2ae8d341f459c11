import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { BrigadeError } from '../../../src/platform/errors/index.ts';
import { newMessageId, type Message } from '../../../src/platform/messaging/index.ts';
import { orderEventsHandler } from '../../../src/services/delivery/index.ts';
import { useDispatchDatabase } from './dispatchDatabase.ts';

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
