import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { payoutsOf } from '../../../../src/services/payments/saga/index.ts';
import { command } from '../../ordering/support.ts';
import { eventually, finalOutcomes, ledgerOf, lineageOf, orderFor, paymentOf, seedRestaurant, signUp, startWiredPlatform, type SeededRestaurant, type WiredPlatform } from './support.ts';

const CARD_ON_FILE = '5555555555554444';

describe('the wired platform: an order from placement to payout', () => {
  let w: WiredPlatform;
  let r: SeededRestaurant;
  before(async () => {
    w = await startWiredPlatform();
    r = await seedRestaurant(w.t, 'Flow Pizzeria');
  });
  after(async () => {
    await w?.close();
  });

  test('charged on the card on file at placement; dispatched, delivered; captured, restaurant and courier paid out once', async () => {
    const admin = await w.t.token('admin', { subject: 'ops' });
    const courier = await w.t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name: 'Rita', city: 'Porto' } });
    assert.equal(courier.statusCode, 201, courier.body);
    const courierId = courier.json().id as string;
    const courierToken = await w.t.token('courier', { subject: courierId });
    assert.equal((await w.t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: courierToken, payload: { available: true } })).statusCode, 200);

    const customer = await signUp(w, CARD_ON_FILE);
    const order = await orderFor(w, r, customer);
    assert.equal(order.total, 2850);

    // OrderPlaced → ordering's outbox → relay → transport → payments consumer → saga runner → provider.
    const authorized = await eventually('the charge', () => paymentOf(w, order.id, customer.token), (p) => p.statusCode === 200 && p.body.payment === 'authorized');
    assert.equal(authorized.body.cardLast4, '4444', "the customer's card on file was charged");
    assert.deepEqual(await ledgerOf(w, order.id), [['authorization', 2850, 'charge']]);

    const at = async () => (await w.t.request({ url: `/v1/orders/${order.id}`, token: r.staff })).json().version as number;
    assert.equal((await command(w.t, r.staff, order.id, 'accept', await at(), { etaMinutes: 15 })).statusCode, 200);
    for (const line of order.lines) assert.equal((await command(w.t, r.staff, order.id, 'mark-item-prepared', await at(), { lineId: line.lineId })).statusCode, 200);
    // Ready with a trace: the dispatch that OrderReady sets off carries it on.
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const ready = await w.t.request({ method: 'POST', url: `/v1/orders/${order.id}/ready`, token: r.staff, headers: { 'if-match': `"${await at()}"`, traceparent } });
    assert.equal(ready.statusCode, 200, ready.body);
    // The delivery service's dispatch workers assign the only available courier of Porto.
    await eventually('the courier', async () => (await w.t.request({ url: `/v1/orders/${order.id}`, token: r.staff })).json().courierId, (id) => id === courierId);

    // Lineage across services: CourierAssigned, appended by delivery's dispatch through ordering's
    // port, is caused by the OrderReady message that queued the order, in its correlation and trace.
    const lineage = await lineageOf(w, order.id, r.staff);
    const readied = lineage.events.find((e) => e.type === 'OrderReady')!;
    const assigned = lineage.events.find((e) => e.type === 'CourierAssigned')!;
    assert.equal(readied.metadata.correlationId, ready.headers['x-request-id'], "OrderReady: the ready request's correlation");
    assert.deepEqual(
      [assigned.metadata.causationId, assigned.metadata.correlationId, assigned.metadata.extra?.traceparent],
      [readied.metadata.messageId, readied.metadata.correlationId, traceparent],
      'CourierAssigned: caused by the OrderReady message, with its correlation and traceparent',
    );
    const headers = lineage.headers.get(assigned.metadata.messageId);
    assert.deepEqual(
      [headers?.causation, headers?.correlation, headers?.traceparent],
      [readied.metadata.messageId, readied.metadata.correlationId, traceparent],
      "the CourierAssigned message's headers say so too",
    );
    assert.equal((await command(w.t, courierToken, order.id, 'pick-up', await at())).statusCode, 200);
    assert.equal((await command(w.t, courierToken, order.id, 'deliver', await at())).statusCode, 200);

    const paid = await eventually('the payouts', () => paymentOf(w, order.id, customer.token), (p) => p.body.payment === 'paid_out');
    const split = payoutsOf({ total: 2850 }, {});
    const body = paid.body as {
      status: string;
      outcome: string;
      amounts: Record<string, unknown>;
      steps: Array<{ step: string; compensation: boolean; outcome: string; amount: number | null; at: string | null; reference: string | null }>;
      events: Array<{ type: string }>;
      deadlines: Array<{ name: string; state: string }>;
    };
    assert.deepEqual([body.status, body.outcome], ['completed', 'delivered']);
    // The payouts are the restaurant's and the courier's business: the customer reads neither (before: the
    // restaurant's share, and with it the platform's commission, and the provider's payout ids).
    assert.deepEqual(body.amounts, { currency: 'EUR', total: 2850, authorized: 2850, captured: 2850, refunded: 0, paidOutRestaurant: null, paidOutCourier: null });
    assert.deepEqual(
      finalOutcomes(body.steps).map((s) => [s.step, s.compensation, s.outcome, s.amount, s.reference === null]),
      [
        ['order', false, 'succeeded', null, true],
        ['charge', false, 'succeeded', 2850, false],
        ['capture', false, 'succeeded', 2850, false],
        ['payoutRestaurant', false, 'succeeded', null, true],
        ['payoutCourier', false, 'succeeded', null, true],
      ],
    );
    assert.ok(body.steps.every((s) => s.at !== null && !Number.isNaN(Date.parse(s.at))), 'each step has its time');
    // The restaurant's staff read every payout, with the provider's references; the courier only their own.
    const asStaff = (await paymentOf(w, order.id, r.staff)).body as typeof body;
    assert.deepEqual([asStaff.amounts.paidOutRestaurant, asStaff.amounts.paidOutCourier], [split.restaurant, split.courier]);
    assert.ok(asStaff.steps.slice(1).every((s) => typeof s.reference === 'string'), "each money step names the provider's object");
    const asCourier = (await paymentOf(w, order.id, courierToken)).body as typeof body;
    assert.deepEqual([asCourier.amounts.paidOutRestaurant, asCourier.amounts.paidOutCourier], [null, split.courier]);
    assert.deepEqual(asCourier.steps.filter((s) => s.step.startsWith('payout')).map((s) => [s.step, s.amount]), [['payoutRestaurant', null], ['payoutCourier', split.courier]]);
    assert.deepEqual(
      body.events.map((e) => e.type),
      ['saga.started', 'order.accepted', 'courier.assigned', 'order.delivered'],
    );
    assert.deepEqual(body.deadlines.map((d) => [d.name, d.state]), [['accept', 'cancelled']], 'the accept deadline was cancelled by the accept');

    // Money moved exactly once per step, per the provider's own ledger.
    assert.deepEqual(await ledgerOf(w, order.id), [
      ['authorization', 2850, 'charge'],
      ['capture', 2850, 'capture'],
      ['payout', split.restaurant, 'payoutRestaurant'],
      ['payout', split.courier, 'payoutCourier'],
    ]);
    const [payouts] = (await w.admin.query<{ destinations: string[] }>(
      `select array_agg(destination order by destination) as destinations from payment_provider.payouts where id in (select object_id from payment_provider.ledger_entries where idempotency_key like $1)`,
      [`${order.id}:%`],
    )).rows;
    assert.deepEqual(payouts?.destinations, [`courier:${courierId}`, `restaurant:${r.rid}`]);
  });
});
