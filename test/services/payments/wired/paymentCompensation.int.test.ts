import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { OutgoingMessage } from '../../../../src/platform/messaging/index.ts';
import { PAYMENT_ORDER_EVENTS_SUBSCRIPTION } from '../../../../src/services/payments/saga/index.ts';
import { command } from '../../ordering/support.ts';
import { ERROR_FOR_CUSTOMERS } from '../../../../src/services/payments/routes.ts';
import { DECLINED_CARD, eventually, finalOutcomes, ledgerOf, lineageOf, orderFor, paymentOf, seedRestaurant, signUp, startWiredPlatform, type SeededRestaurant, type WiredPlatform } from './support.ts';

describe('the wired platform: compensations', () => {
  let w: WiredPlatform;
  let r: SeededRestaurant;
  before(async () => {
    w = await startWiredPlatform();
    r = await seedRestaurant(w.t, 'Compensation Tasca');
  });
  after(async () => {
    await w?.close();
  });

  const orderOf = async (id: string) => (await w.t.request({ url: `/v1/orders/${id}`, token: r.staff })).json() as Record<string, unknown>;

  /**
   * The order's OrderCancelled is caused by the OrderPlaced message that started the payment saga:
   * its causation is that message's id, its correlation and traceparent that message's, in the
   * event's metadata and in its outbox message's headers.
   */
  const assertCancelCausedByPlacement = async (orderId: string, traceparent: string) => {
    const lineage = await lineageOf(w, orderId, r.staff);
    const placed = lineage.events.find((e) => e.type === 'OrderPlaced')!;
    const cancelled = lineage.events.find((e) => e.type === 'OrderCancelled')!;
    assert.deepEqual(
      [cancelled.metadata.causationId, cancelled.metadata.correlationId, cancelled.metadata.extra?.traceparent],
      [placed.metadata.messageId, placed.metadata.correlationId, traceparent],
      "OrderCancelled: caused by the OrderPlaced message, in the placement's correlation and trace",
    );
    const headers = lineage.headers.get(cancelled.metadata.messageId);
    assert.deepEqual([headers?.causation, headers?.correlation, headers?.traceparent], [placed.metadata.messageId, placed.metadata.correlationId, traceparent], "and so say its message's headers");
  };

  test('a declined card on file: the order is cancelled by payments, and nothing is charged per the provider ledger', async () => {
    const customer = await signUp(w, DECLINED_CARD);
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const order = await orderFor(w, r, customer, { traceparent });
    const cancelled = await eventually('the cancel', () => orderOf(order.id), (o) => o.status === 'cancelled');
    assert.deepEqual([cancelled.cancelledBy, cancelled.cancelReason], ['system', 'payment: payment failed']);
    await assertCancelCausedByPlacement(order.id, traceparent);
    const payment = await eventually('the saga to end', () => paymentOf(w, order.id, customer.token), (p) => p.body.status === 'compensated');
    const body = payment.body as { payment: string; error: string; amounts: Record<string, number>; steps: Array<{ step: string; compensation: boolean; outcome: string }> };
    assert.equal(body.payment, 'declined');
    // The customer reads what to do about it, not the provider's text (decision 0083, Later; 0052, Fixed
    // later): before, "the payment needs attention; the restaurant and the platform can see why".
    assert.equal(body.error, 'Your card was declined: use another card (PUT /v1/customers/me/payment-method) and order again');
    const charge = (body.steps as Array<{ step: string; compensation: boolean; outcome: string; error: string | null }>).find((s) => s.step === 'charge' && s.outcome === 'failed');
    assert.equal(charge?.error, body.error);
    assert.ok(!JSON.stringify(body).includes('ending 0002'), "none of the provider's text");
    const asStaff = (await paymentOf(w, order.id, r.staff)).body as { error: string };
    assert.match(asStaff.error, /^charge failed: /, 'the restaurant reads the operator text');
    assert.notEqual(ERROR_FOR_CUSTOMERS, body.error);
    assert.deepEqual([body.amounts.authorized, body.amounts.captured, body.amounts.refunded], [0, 0, 0]);
    assert.deepEqual(
      finalOutcomes(body.steps).map((s) => [s.step, s.compensation, s.outcome]),
      [['order', false, 'succeeded'], ['charge', false, 'failed'], ['order', true, 'succeeded']],
      'the order step is undone (the cancel); the charge never completed, so there is nothing to refund',
    );
    assert.deepEqual(await ledgerOf(w, order.id), [], 'no ledger entry: nothing charged');
    const answered = await w.admin.query(`select status, body ->> 'code' as code from payment_provider.idempotency_keys where key = $1`, [`${order.id}:charge`]);
    assert.deepEqual(answered.rows, [{ status: 402, code: 'CARD_DECLINED' }], 'the provider was asked, with the card on file, and declined it');
    // The staff's accept now meets a cancelled order.
    const accept = await command(w.t, r.staff, order.id, 'accept', cancelled.version as number);
    assert.equal(accept.statusCode, 422, accept.body);
  });

  test('a reject after the charge: refunded once, even when OrderRejected is delivered again', async () => {
    const customer = await signUp(w); // no card on file: PAYMENT_DEFAULT_CARD is charged
    const order = await orderFor(w, r, customer);
    await eventually('the charge', () => paymentOf(w, order.id, customer.token), (p) => p.body.payment === 'authorized');
    assert.equal((await command(w.t, r.staff, order.id, 'reject', order.version, { reason: 'out of dough' })).statusCode, 200);
    const refunded = await eventually('the refund', () => paymentOf(w, order.id, customer.token), (p) => p.body.status === 'completed');
    const body = refunded.body as { payment: string; outcome: string; cardLast4: string; amounts: Record<string, number> };
    // Authorized, never captured: voided (before: captured, then refunded, moving the money twice).
    assert.deepEqual([body.payment, body.outcome, body.cardLast4], ['voided', 'rejected', '4242']);
    assert.deepEqual([body.amounts.authorized, body.amounts.captured, body.amounts.refunded], [2850, 0, 0]);
    assert.deepEqual(await ledgerOf(w, order.id), [
      ['authorization', 2850, 'charge'],
      ['void', 2850, 'refund:void'],
    ]);

    // At-least-once delivery: the broker hands the same OrderRejected to the payments consumer again.
    const [rejected] = (await w.admin.query<OutgoingMessage>(
      `select message_id as id, subject, aggregate_key as key, headers, payload from ordering.outbox where payload ->> 'orderId' = $1 and subject = 'ordering.order.OrderRejected'`,
      [order.id],
    )).rows;
    assert.ok(rejected !== undefined);
    await w.t.platform.deps.transport.redeliver(PAYMENT_ORDER_EVENTS_SUBSCRIPTION, rejected);
    await eventually(
      'the redelivery to be handled',
      async () => (await w.admin.query(`select 1 from brigade_bus.deliveries where subscription = $1 and message_id = $2 union all select 1 from brigade_bus.dead_letters where message_id = $2`, [PAYMENT_ORDER_EVENTS_SUBSCRIPTION, rejected.id])).rowCount,
      (n) => n === 0,
    );
    assert.equal((await ledgerOf(w, order.id)).filter(([movement]) => movement === 'void').length, 1, 'voided once');
    assert.equal((await paymentOf(w, order.id, customer.token)).body.version, refunded.body.version, 'the saga did not change');
  });

  test('no accept within ACCEPT_DEADLINE_MINUTES: the deadline scheduler fires, the charge is refunded, then the order is cancelled', async () => {
    const customer = await signUp(w);
    const traceparent = '00-5bf92f3577b34da6a3ce929d0e0e4736-10f067aa0ba902b7-01';
    const order = await orderFor(w, r, customer, { traceparent });
    const charged = await eventually('the charge', () => paymentOf(w, order.id, customer.token), (p) => p.body.payment === 'authorized');
    const deadlines = charged.body.deadlines as Array<{ name: string; dueAt: string; state: string }>;
    assert.deepEqual(deadlines.map((d) => [d.name, d.state]), [['accept', 'open']]);
    const placedAt = Date.parse(((await orderOf(order.id)) as { placedAt: string }).placedAt);
    const dueIn = Date.parse(deadlines[0]!.dueAt) - placedAt;
    // From the order's placedAt, whatever the relay and the consumer took to bring the order event (before:
    // from the saga's start, later by that much, FLOW_MS or a whole backlog).
    assert.equal(dueIn, 10 * 60_000, `due ACCEPT_DEADLINE_MINUTES (default 10) after placement, not ${dueIn} ms`);
    // The clock moves: bring the deadline forward instead of waiting ten minutes.
    const moved = await w.admin.query(`update payments.saga_deadlines set due_at = now() where saga_id = $1 and name = 'accept' and fired_at is null`, [order.id]);
    assert.equal(moved.rowCount, 1);
    const ended = await eventually('the compensation', () => paymentOf(w, order.id, customer.token), (p) => p.body.status === 'compensated');
    assert.deepEqual([ended.body.payment, ended.body.outcome], ['voided', 'expired']);
    const cancelled = await orderOf(order.id);
    assert.deepEqual([cancelled.status, cancelled.cancelledBy, cancelled.cancelReason], ['cancelled', 'system', 'payment: not accepted in time']);
    await assertCancelCausedByPlacement(order.id, traceparent);
    assert.deepEqual(await ledgerOf(w, order.id), [
      ['authorization', 2850, 'charge'],
      ['void', 2850, 'charge:compensate:void'],
    ]);
  });
});
