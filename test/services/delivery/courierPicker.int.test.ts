import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { holdCourier } from '../../../src/services/delivery/operations/holdCourier.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { command, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../ordering/support.ts';

/**
 * `GET /v1/restaurants/:rid/couriers` (decision 0089): the couriers staff may assign to an order of
 * their restaurant, read from delivery's availability with the names from the platform's directory,
 * through the composition root's ports (the whole platform, as `brigade start` wires it).
 */
describe("the couriers staff may assign: GET /v1/restaurants/:rid/couriers", () => {
  let t: TestPlatform;
  let r: SeededRestaurant;
  let admin: string;

  before(async () => {
    t = await startTestPlatform();
    // Porto, with a menu; its couriers below are registered in other spellings of the city's name.
    r = await seedRestaurant(t, 'Casa Picker');
    admin = await t.token('admin', { subject: 'ops' });
  });
  after(async () => {
    await t?.close();
  });

  /** A courier registered by an admin in `city` (as typed), optionally made available (or available then offline). */
  const courierIn = async (name: string, city: string, availability: 'available' | 'offline' | 'never' = 'available') => {
    const made = await t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name, city } });
    assert.equal(made.statusCode, 201, made.body);
    const id = made.json().id as string;
    const token = await t.token('courier', { subject: id });
    if (availability !== 'never') {
      const on = await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token, payload: { available: true } });
      assert.equal(on.statusCode, 200, on.body);
    }
    if (availability === 'offline') {
      const off = await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token, payload: { available: false } });
      assert.equal(off.statusCode, 200, off.body);
    }
    return { id, token };
  };
  const list = (rid: string, token?: string) => t.request({ method: 'GET', url: `/v1/restaurants/${rid}/couriers`, ...(token === undefined ? {} : { token }) });

  test("lists the city's available couriers (longest wait first), then held ones, then busy ones, with their names; offline, never available and other cities' couriers are not listed", async () => {
    // The city's name in any case is the restaurant's city, as the directory makes it (findOrCreateCity).
    const ana = await courierIn('Ana', 'porto');
    const bruno = await courierIn('Bruno', 'PORTO');
    const held = await courierIn('Hugo', 'Porto');
    const busy = await courierIn('Bea', 'Porto');
    await courierIn('Olga', 'Porto', 'offline');
    await courierIn('Nuno', 'Porto', 'never');
    await courierIn('Lia', 'Lisbon');

    // Bea: staff assign her to an order, which reserves her in delivery (decision 0084): busy.
    const c = await customer(t);
    const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 1, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
    const orderId = placed.json().id as string;
    assert.equal((await command(t, r.staff, orderId, 'accept', 1)).statusCode, 200);
    assert.equal((await command(t, r.staff, orderId, 'assign-courier', 2, { courierId: busy.id })).statusCode, 200);
    // Hugo: held off the dispatch for another restaurant's reassignment, for a while.
    await t.platform.deps.unitOfWork({ service: 'delivery', actor: { kind: 'system', id: 'test' } }, (tx) =>
      holdCourier(tx, { tenantId: randomUUID(), orderId: randomUUID(), courierId: held.id, city: 'Porto', leaseMs: 60_000 }),
    );

    const res = await list(r.rid, r.staff);
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json() as { city: string; couriers: Array<Record<string, unknown>>; more: boolean };
    assert.equal(body.city, 'Porto');
    assert.equal(body.more, false);
    assert.deepEqual(
      body.couriers.map((k) => [k.name, k.status, k.held]),
      [
        ['Ana', 'available', false],
        ['Bruno', 'available', false],
        ['Hugo', 'available', true],
        ['Bea', 'busy', false],
      ],
    );
    const [first, second, third, fourth] = body.couriers as [Record<string, unknown>, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>];
    assert.deepEqual(Object.keys(first).sort(), ['availableSince', 'courierId', 'held', 'heldUntil', 'name', 'status'], 'no other restaurant’s order id, no city per row');
    assert.equal(first.courierId, ana.id);
    assert.equal(second.courierId, bruno.id);
    assert.ok(Date.parse(String(first.availableSince)) <= Date.parse(String(second.availableSince)));
    assert.equal(first.heldUntil, null);
    assert.ok(Date.parse(String(third.heldUntil)) > Date.now(), 'a held courier says until when');
    assert.equal(fourth.availableSince, null, 'a busy courier is not waiting');

    // A courier the list names can be assigned: Ana to a second order.
    const second2 = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 2, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
    const other = second2.json().id as string;
    assert.equal((await command(t, r.staff, other, 'accept', 1)).statusCode, 200);
    const assigned = await command(t, r.staff, other, 'assign-courier', 2, { courierId: ana.id });
    assert.equal(assigned.statusCode, 200, assigned.body);
    const after = (await list(r.rid, r.staff)).json() as { couriers: Array<{ courierId: string; status: string }> };
    assert.equal(after.couriers.find((k) => k.courierId === ana.id)?.status, 'busy', 'Ana, now carrying the order, is listed busy');
    assert.equal(after.couriers.at(-1)?.status, 'busy');
  });

  test('who may read it: its staff and admins; staff of another restaurant and an unknown restaurant get 404; customers and couriers 403; no token 401; a bad id 400', async () => {
    assert.equal((await list(r.rid, r.staff)).statusCode, 200);
    assert.equal((await list(r.rid, admin)).statusCode, 200);
    const otherRestaurant = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Elsewhere', city: 'Porto' } });
    assert.equal(otherRestaurant.statusCode, 201, otherRestaurant.body);
    const otherStaff = await t.token('staff', { restaurantId: otherRestaurant.json().id as string, subject: randomUUID() });
    const refused = await list(r.rid, otherStaff);
    assert.equal(refused.statusCode, 404, refused.body);
    assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
    assert.equal(refused.json().code, 'NOT_FOUND');
    assert.equal((await list(randomUUID(), admin)).statusCode, 404, "an admin asking for a restaurant the directory does not know");
    const c = await customer(t);
    assert.equal((await list(r.rid, c.token)).statusCode, 403);
    const k = await courierIn('Rui', 'Porto');
    const asCourier = await list(r.rid, k.token);
    assert.equal(asCourier.statusCode, 403);
    assert.equal(asCourier.json().code, 'FORBIDDEN');
    assert.equal((await list(r.rid)).statusCode, 401);
    const bad = await list('not-a-uuid', r.staff);
    assert.equal(bad.statusCode, 400);
    assert.match(String(bad.headers['content-type']), /^application\/problem\+json/);
  });

  test("a busy courier who asked to stop after their current order is not listed, and staff's assign-courier to them is refused with 422 COURIER_STOPPING, appending nothing; once they say they will go on, they are listed and assignable (before: listed as taking the order after their current one, and handed it)", async () => {
    const c = await customer(t);
    /** A new order of the restaurant, accepted (version 2, no courier): no dispatch before it is ready. */
    const acceptedOrder = async () => {
      const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 9, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
      assert.equal(placed.statusCode, 201, placed.body);
      const id = placed.json().id as string;
      assert.equal((await command(t, r.staff, id, 'accept', 1)).statusCode, 200);
      return id;
    };
    const listed = async (courierId: string) => ((await list(r.rid, r.staff)).json() as { couriers: Array<{ courierId: string; status: string }> }).couriers.find((k) => k.courierId === courierId);
    const availability = async (token: string) => (await t.request({ method: 'GET', url: '/v1/couriers/me/availability', token })).json() as { status: string; currentOrderId: string | null; afterCurrentOrder: string | null };

    // Sara carries X (staff's assignment), then presses Stop: she stops after X.
    const sara = await courierIn('Sara', 'Porto');
    const x = await acceptedOrder();
    assert.equal((await command(t, r.staff, x, 'assign-courier', 2, { courierId: sara.id })).statusCode, 200);
    assert.deepEqual(await listed(sara.id), { courierId: sara.id, name: 'Sara', status: 'busy', held: false, heldUntil: null, availableSince: null }, 'busy, and going on after X: listed');
    const stop = await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: sara.token, payload: { available: false } });
    assert.equal(stop.statusCode, 200, stop.body);
    assert.equal(stop.json().afterCurrentOrder, 'offline');
    assert.equal(await listed(sara.id), undefined, 'stopping after X: not offered to staff');

    // Staff assign her Y anyway (a list read before she stopped): refused, nothing recorded anywhere.
    const y = await acceptedOrder();
    const refused = await command(t, r.staff, y, 'assign-courier', 2, { courierId: sara.id });
    assert.equal(refused.statusCode, 422, refused.body);
    assert.match(String(refused.headers['content-type']), /^application\/problem\+json/);
    const problem = refused.json() as { code: string; detail: string; field?: string };
    assert.equal(problem.code, 'COURIER_STOPPING');
    assert.equal(problem.field, 'body.courierId');
    assert.match(problem.detail, /stop/);
    const orderY = (await t.request({ method: 'GET', url: `/v1/orders/${y}`, token: r.staff })).json() as { version: number; courierId?: string | null };
    assert.equal(orderY.version, 2, 'no CourierAssigned appended');
    assert.equal(orderY.courierId ?? null, null);
    assert.deepEqual(await availability(sara.token), { ...(await availability(sara.token)), status: 'busy', currentOrderId: x, afterCurrentOrder: 'offline' }, 'still stopping after X');

    // She changes her mind ("Start taking deliveries"): listed again, and Y can be hers after X.
    assert.equal((await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: sara.token, payload: { available: true } })).statusCode, 200);
    assert.equal((await listed(sara.id))?.status, 'busy');
    const assigned = await command(t, r.staff, y, 'assign-courier', 2, { courierId: sara.id });
    assert.equal(assigned.statusCode, 200, assigned.body);

    // A courier staff gave an order while offline (decision 0042) goes offline after it too, but did not
    // ask to stop: listed busy, and staff may give them another order, as before.
    const olga = await courierIn('Olga', 'Porto', 'offline');
    const first = await acceptedOrder();
    assert.equal((await command(t, r.staff, first, 'assign-courier', 2, { courierId: olga.id })).statusCode, 200);
    assert.deepEqual(await availability(olga.token), { ...(await availability(olga.token)), status: 'busy', currentOrderId: first, afterCurrentOrder: 'offline' });
    assert.equal((await listed(olga.id))?.status, 'busy');
    const again = await command(t, r.staff, await acceptedOrder(), 'assign-courier', 2, { courierId: olga.id });
    assert.equal(again.statusCode, 200, again.body);
    // Once Olga presses Stop herself, she is out of the list and refused like Sara.
    assert.equal((await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: olga.token, payload: { available: false } })).statusCode, 200);
    assert.equal(await listed(olga.id), undefined);
    const third = await command(t, r.staff, await acceptedOrder(), 'assign-courier', 2, { courierId: olga.id });
    assert.equal(third.statusCode, 422, third.body);
    assert.equal(third.json().code, 'COURIER_STOPPING');
  });

  test('a restaurant whose city has no courier answers an empty list, not an error', async () => {
    const lonely = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Far Away', city: 'Faro' } });
    assert.equal(lonely.statusCode, 201, lonely.body);
    const rid = lonely.json().id as string;
    const staff = await t.token('staff', { restaurantId: rid, subject: randomUUID() });
    const res = await list(rid, staff);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { city: 'Faro', couriers: [], more: false });
  });
});
