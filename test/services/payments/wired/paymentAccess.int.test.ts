import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { command, courier } from '../../ordering/support.ts';
import { eventually, orderFor, paymentOf, seedRestaurant, signUp, startWiredPlatform, type SeededRestaurant, type WiredPlatform } from './support.ts';

describe('GET /v1/orders/:id/payment: readable by exactly the people who may read the order', () => {
  let w: WiredPlatform;
  let r: SeededRestaurant;
  let other: SeededRestaurant;
  before(async () => {
    w = await startWiredPlatform();
    r = await seedRestaurant(w.t, 'Access Osteria');
    other = await seedRestaurant(w.t, 'Another Osteria');
  });
  after(async () => {
    await w?.close();
  });

  test('customer, staff, assigned courier and admin read it; everyone else gets 404 (as for the order itself)', async () => {
    const owner = await signUp(w);
    const stranger = await signUp(w);
    const order = await orderFor(w, r, owner);
    const admin = await w.t.token('admin', { subject: 'ops' });
    await eventually('the payment saga', () => paymentOf(w, order.id, admin), (p) => p.statusCode === 200);
    const assigned = await courier(w.t);
    const otherCourier = await courier(w.t);
    const readers: Record<string, string> = {
      'the customer': owner.token,
      'another customer': stranger.token,
      "the restaurant's staff": r.staff,
      "another restaurant's staff": other.staff,
      'the courier, before assignment': assigned.token,
      'another courier': otherCourier.token,
      admin,
    };
    const codes = async () => {
      const out: Record<string, [number, number]> = {};
      for (const [who, token] of Object.entries(readers)) {
        const order = await w.t.request({ url: `/v1/orders/${orderId}`, token });
        out[who] = [(await paymentOf(w, orderId, token)).statusCode, order.statusCode];
      }
      return out;
    };
    const orderId = order.id;
    const before = await codes();
    assert.deepEqual(before, {
      'the customer': [200, 200],
      'another customer': [404, 404],
      "the restaurant's staff": [200, 200],
      "another restaurant's staff": [404, 404],
      'the courier, before assignment': [404, 404],
      'another courier': [404, 404],
      admin: [200, 200],
    });

    assert.equal((await command(w.t, r.staff, order.id, 'accept', order.version)).statusCode, 200);
    assert.equal((await command(w.t, r.staff, order.id, 'assign-courier', order.version + 1, { courierId: assigned.id })).statusCode, 200);
    // The order at once; the payment once payments has taken the CourierAssigned: its Row-Level Security
    // knows a saga's courier from the saga's own state (docs/decisions/0006, "Within a tenant, per actor").
    await eventually('the assigned courier reads the payment', () => paymentOf(w, orderId, assigned.token), (p) => p.statusCode === 200);
    const now = await codes();
    assert.deepEqual(now['the courier, before assignment'], [200, 200], 'the assigned courier reads it');
    assert.deepEqual(now['another courier'], [404, 404]);

    // The card's last four digits are the customer's: the customer, the restaurant and the platform read
    // them, the courier delivering the order does not (before: it did).
    const charged = await eventually('the charge authorized', () => paymentOf(w, orderId, r.staff), (p) => p.statusCode === 200 && p.body.cardLast4 !== null);
    const last4 = charged.body.cardLast4;
    assert.match(String(last4), /^\d{4}$/);
    const cardLast4Of = async (token: string) => (await paymentOf(w, orderId, token)).body.cardLast4;
    assert.deepEqual([await cardLast4Of(owner.token), await cardLast4Of(admin), await cardLast4Of(assigned.token)], [last4, last4, null]);

    const body = (await paymentOf(w, order.id, owner.token)).body;
    assert.equal(body.orderId, order.id);
    assert.equal(body.restaurantId, r.rid);
    assert.equal(JSON.stringify(body).includes('4242424242424242'), false, 'the card number never appears, only its last four digits');
  });

  test('no token 401, a malformed id 400, an unknown order 404 as problem+json', async () => {
    const admin = await w.t.token('admin', { subject: 'ops' });
    assert.equal((await w.t.request({ url: `/v1/orders/${randomUUID()}/payment` })).statusCode, 401);
    assert.equal((await w.t.request({ url: '/v1/orders/nope/payment', token: admin })).statusCode, 400);
    const unknown = await w.t.request({ url: `/v1/orders/${randomUUID()}/payment`, token: admin });
    assert.deepEqual([unknown.statusCode, unknown.json().code], [404, 'NOT_FOUND']);
    assert.match(unknown.headers['content-type'] as string, /application\/problem\+json/);
  });

  test('the OpenAPI document declares the response', async () => {
    const docs = await w.t.request({ url: '/docs/json' });
    assert.equal(docs.statusCode, 200);
    const op = docs.json().paths['/v1/orders/{id}/payment']?.get;
    assert.ok(op, 'the route is documented');
    const schema = op.responses['200'].content['application/json'].schema;
    assert.deepEqual(Object.keys(schema.properties).sort(), ['amounts', 'cardLast4', 'createdAt', 'deadlines', 'error', 'events', 'orderId', 'outcome', 'payment', 'restaurantId', 'status', 'steps', 'updatedAt', 'version']);
  });
});
