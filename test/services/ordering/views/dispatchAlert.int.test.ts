import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { workersOf } from '../../../../src/cli/runUntilSignal.ts';
import { SERVICES } from '../../../../src/composition/services.ts';
import type { OutgoingMessage } from '../../../../src/platform/messaging/index.ts';
import { dispatchOnce } from '../../../../src/services/delivery/index.ts';
import { DISPATCH_ALERTS_SUBSCRIPTION, dispatchAlertsHandler, orderCommands } from '../../../../src/services/ordering/index.ts';
import { eventually, FLOW_MS } from '../../../support/eventually.ts';
import { startTestPlatform, type TestPlatform } from '../../../support/platform.ts';
import { command, courier, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../support.ts';

/** The workers this path needs, by name, as the composition root wires them: no dispatch workers (the test dispatches). */
const WORKERS = ['ordering/outbox-relay', 'delivery/outbox-relay', 'delivery/order-events-consumer', 'ordering/dispatch-alerts-consumer', 'ordering/projection-board'];

describe('dispatch alerts: delivery dead-letters an order, the live-board shows an alert until a courier is assigned', () => {
  let t: TestPlatform;
  let r: SeededRestaurant;
  const stop = new AbortController();
  let running: Array<Promise<void>> = [];
  before(async () => {
    t = await startTestPlatform({ DATABASE_POOL_SIZE: '12' });
    r = await seedRestaurant(t, 'Alert Trattoria');
    setMaxListeners(0, stop.signal);
    const workers = workersOf(SERVICES).filter((w) => WORKERS.includes(`${w.service}/${w.name}`));
    assert.equal(workers.length, WORKERS.length, 'every worker is registered under its name');
    running = workers.map((w) => w.run(t.platform.deps, stop.signal));
  });
  after(async () => {
    stop.abort();
    await Promise.all(running);
    await t?.close();
  });

  const boardRow = async (orderId: string) => {
    const res = await t.request({ url: `/v1/restaurants/${r.rid}/board`, token: r.staff });
    assert.equal(res.statusCode, 200, res.body);
    return (res.json().orders as Array<Record<string, unknown>>).find((o) => o.orderId === orderId);
  };

  test('no courier in the city: the last attempt dead-letters, ordering records DispatchAlertRaised, the board and the order show it', async () => {
    const c = await customer(t);
    const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 1, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
    const orderId = placed.json().id as string;
    assert.equal((await command(t, r.staff, orderId, 'accept', 1)).statusCode, 200);
    const traceparent = '00-6bf92f3577b34da6a3ce929d0e0e4736-20f067aa0ba902b7-01';
    const ready = await t.request({ method: 'POST', url: `/v1/orders/${orderId}/ready`, token: r.staff, headers: { 'if-match': '"2"', traceparent } });
    assert.equal(ready.statusCode, 200, ready.body);
    const uow = t.platform.deps.unitOfWork;
    await eventually('OrderReady to queue the order', async () => (await uow({ service: 'delivery', actor: { kind: 'system', id: 'test' } }, (tx) => tx.query(`select 1 from delivery.dispatch_queue where order_id = $1`, [orderId]))).rowCount, (n) => n === 1);

    // Porto has no courier at all: with one attempt allowed, the first is the last.
    const step = await dispatchOnce({ unitOfWork: uow, orders: orderCommands(t.platform.deps) }, { maxAttempts: 1 });
    assert.deepEqual(step, { outcome: 'dead', orderId });

    const row = await eventually('the alert on the board', () => boardRow(orderId), (o) => o?.dispatchAlert !== null && o?.dispatchAlert !== undefined, FLOW_MS);
    const alert = row?.dispatchAlert as { alertId: string; attempts: number; reason: string; raisedAt: string };
    assert.deepEqual([alert.attempts, alert.reason], [1, 'no courier available in Porto after 1 attempts: assign a courier to the order or cancel it']);
    assert.ok(!Number.isNaN(Date.parse(alert.raisedAt)));
    const order = await t.request({ url: `/v1/orders/${orderId}`, token: r.staff });
    assert.deepEqual(order.json().dispatchAlert, alert, 'the order itself records the alert');
    assert.equal(order.json().version, 4, 'placed, accepted, ready, then the alert: one event');
    type Envelope = { type: string; metadata: { messageId: string; correlationId: string; causationId: string | null; extra?: { traceparent?: string } } };
    const events = (await t.request({ url: `/v1/orders/${orderId}/events`, token: r.staff })).json().events as Envelope[];
    assert.equal(events.at(-1)?.type, 'DispatchAlertRaised');

    // Delivered again (at least once): the same alert appends nothing.
    const [failed] = (await uow({ service: 'delivery', actor: { kind: 'system', id: 'test' } }, (tx) =>
      tx.query<OutgoingMessage>(`select message_id as id, subject, aggregate_key as key, headers, payload from delivery.outbox where subject = 'delivery.dispatch.DispatchFailed' and aggregate_key = $1`, [orderId]),
    )).rows;
    assert.ok(failed !== undefined);

    // Lineage across services: DispatchFailed is caused by the OrderReady message that queued the
    // order (its correlation and trace carried on), and DispatchAlertRaised by DispatchFailed.
    const readied = events.find((e) => e.type === 'OrderReady')!;
    assert.equal(readied.metadata.correlationId, ready.headers['x-request-id']);
    assert.deepEqual(
      [failed.headers.causation, failed.headers.correlation, failed.headers.traceparent],
      [readied.metadata.messageId, readied.metadata.correlationId, traceparent],
      "DispatchFailed's headers: caused by OrderReady, in its correlation and trace",
    );
    const raised = events.at(-1)!.metadata;
    assert.deepEqual(
      [raised.causationId, raised.correlationId, raised.extra?.traceparent],
      [failed.id, readied.metadata.correlationId, traceparent],
      'DispatchAlertRaised: caused by the DispatchFailed message, in the same correlation and trace',
    );
    await t.platform.deps.transport.redeliver(DISPATCH_ALERTS_SUBSCRIPTION, failed);
    await eventually('the redelivery to be handled', async () => (await t.platform.databases.poolFor('platform').query(`select 1 from brigade_bus.deliveries where subscription = $1 and message_id = $2`, [DISPATCH_ALERTS_SUBSCRIPTION, failed.id])).rowCount, (n) => n === 0);
    assert.equal((await t.request({ url: `/v1/orders/${orderId}`, token: r.staff })).json().version, 4, 'still version 4');

    // Staff assign a courier themselves: the alert leaves the board.
    const courierId = (await courier(t)).id;
    assert.equal((await command(t, r.staff, orderId, 'assign-courier', 4, { courierId })).statusCode, 200);
    const cleared = await eventually('the alert to clear', () => boardRow(orderId), (o) => o?.courierId === courierId, FLOW_MS);
    assert.equal(cleared?.dispatchAlert, null);
  });

  test('an alert for an order that no longer waits for a courier (cancelled meanwhile) is done without an event', async () => {
    const c = await customer(t);
    const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 2, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
    const orderId = placed.json().id as string;
    assert.equal((await command(t, r.staff, orderId, 'cancel', 1, { reason: 'closing early' })).statusCode, 200);
    await dispatchAlertsHandler(t.platform.deps)({
      id: '0193a0a0-0000-7000-8000-000000000001',
      subject: 'delivery.dispatch.DispatchFailed',
      key: orderId,
      headers: { tenant: r.rid } as never,
      payload: { alertId: 'x', orderId, restaurantId: r.rid, city: 'Porto', attempts: 8, reason: 'no courier', failedAt: new Date().toISOString() },
      attempt: 1,
    });
    assert.equal((await t.request({ url: `/v1/orders/${orderId}`, token: r.staff })).json().version, 2, 'nothing appended to a cancelled order');
    await assert.rejects(
      dispatchAlertsHandler(t.platform.deps)({ id: '0193a0a0-0000-7000-8000-000000000002', subject: 'delivery.dispatch.DispatchFailed', key: orderId, headers: { tenant: r.rid } as never, payload: { orderId }, attempt: 1 }),
      /is not a dispatch failure/,
      'a malformed message fails (retried, then dead-lettered), never dropped silently',
    );
  });
});
