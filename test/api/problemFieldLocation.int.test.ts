import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../support/platform.ts';
import { command, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../services/ordering/support.ts';

/** Where a problem's `field` says the input was: a location and the name, or a header's name (decision 0083). */
const LOCATED_FIELD = /^(body|querystring|params|headers)\.|^[A-Z][A-Za-z-]+$/;

// Found by a review of the contracts: the schema's 400s said `body.role`, `querystring.after`, the
// routes' own errors a bare `restaurantId`, `before`, `expectedTotal`, so that a client could not
// tell a body member from a query parameter, even within one route.
describe('every problem document names its field with its location, the routes’ errors as the schema’s', () => {
  let t: TestPlatform;
  let r: SeededRestaurant;
  before(async () => {
    t = await startTestPlatform();
    r = await seedRestaurant(t, 'Located');
  });
  after(async () => {
    await t.close();
  });

  test('400, 409 and 422 from the routes and the operations they call: body., querystring. or a header name', async () => {
    const admin = await t.token('admin', { subject: 'ops' });
    const staff = r.staff;
    const c = await customer(t);
    const email = `ana-${randomUUID()}@example.com`;
    const signUp = () => t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Ana', email, address: 'Rua 1, Porto' } });
    assert.equal((await signUp()).statusCode, 201);
    const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 2, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
    const orderId = placed.json().id as string;
    assert.equal((await command(t, staff, orderId, 'accept', 1)).statusCode, 200);
    const menu = `/v1/restaurants/${r.rid}/menu`;

    const answers: Array<[string, Awaited<ReturnType<TestPlatform['request']>>, number, string]> = [
      ['board ?before=', await t.request({ url: `/v1/restaurants/${r.rid}/board?before=xyz`, token: staff }), 400, 'querystring.before'],
      ['board ?after= (the schema)', await t.request({ url: `/v1/restaurants/${r.rid}/board?after=abc`, token: staff }), 400, 'querystring.after'],
      ['menu search ?before=', await t.request({ url: '/v1/menu/search?q=pizza&city=Porto&before=xyz' }), 400, 'querystring.before'],
      ['dead-letter redrive parkedBy', await t.request({ method: 'POST', url: '/v1/admin/dead-letters/redrive', token: admin, payload: { parkedBy: '0000-01-01T00:00:00Z' } }), 400, 'body.parkedBy'],
      ['POST /v1/tokens staff without restaurantId', await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: { role: 'staff' } }), 400, 'body.restaurantId'],
      ['POST /v1/tokens role (the schema)', await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: { role: 'root' } }), 400, 'body.role'],
      ['token revocation subject', await t.request({ method: 'POST', url: '/v1/admin/token-revocations', token: admin, payload: { role: 'courier', subject: 'not-a-uuid' } }), 400, 'body.subject'],
      ['sign-up again', await signUp(), 409, 'body.email'],
      [
        'order expectedTotal',
        await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 2, Porto', lines: [{ itemId: r.cola, quantity: 1 }], expectedTotal: 1 }),
        409,
        'body.expectedTotal',
      ],
      ['assign an unknown courier', await command(t, staff, orderId, 'assign-courier', 2, { courierId: randomUUID() }), 422, 'body.courierId'],
      ['item in an unknown category', await t.request({ method: 'POST', url: `${menu}/items`, token: staff, payload: { categoryId: randomUUID(), name: 'Lost', price: 100 } }), 422, 'body.categoryId'],
      ['pause until now', await t.request({ method: 'PUT', url: `/v1/restaurants/${r.rid}/order-pause`, token: staff, payload: { until: '2020-01-01T00:00:00Z' } }), 400, 'body.until'],
      ['pause until and forMinutes', await t.request({ method: 'PUT', url: `/v1/restaurants/${r.rid}/order-pause`, token: staff, payload: { until: '2099-01-01T00:00:00Z', forMinutes: 5 } }), 400, 'body.forMinutes'],
      ['order without an Idempotency-Key', await t.request({ method: 'POST', url: '/v1/orders', token: c.token, payload: { restaurantId: r.rid, deliveryAddress: 'Rua 2', lines: [{ itemId: r.cola, quantity: 1 }] } }), 400, 'Idempotency-Key'],
    ];
    for (const [what, res, status, field] of answers) {
      assert.deepEqual([res.statusCode, res.json().field], [status, field], `${what}: ${res.body}`);
      assert.match(res.json().field, LOCATED_FIELD, what);
    }
  });
});
