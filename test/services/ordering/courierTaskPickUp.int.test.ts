import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { parsePosition } from '../../../src/platform/projections/index.ts';
import { ORDER_VIEWS } from '../../../src/services/ordering/views/index.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { assignedOrder, courier, customer, seedRestaurant, type SeededRestaurant } from './support.ts';
import { drain } from './views/support.ts';

type Task = { orderId: string; restaurantId: string; restaurantName: string | null; pickupAddress: string | null; pickupUnknown: string | null; deliveryAddress: string | null };

// Found in the forty-eighth session (decision 0040, finding 4): a courier's task named the order and
// where to deliver it, never the restaurant to fetch it from, and restaurants had no address at all.
describe("a courier task names its restaurant and where to pick the order up (the restaurant's pick-up address)", () => {
  let t: TestPlatform;
  let owner: pg.Pool;
  let admin: string;
  let r: SeededRestaurant;
  before(async () => {
    t = await startTestPlatform();
    owner = new pg.Pool({ connectionString: t.db.url, max: 2 });
    admin = await t.token('admin', { subject: 'ops' });
    r = await seedRestaurant(t, 'Pick-up Tasca');
  });
  after(async () => {
    await owner?.end();
    await t?.close();
  });

  const patch = (rid: string, token: string | undefined, payload: unknown) =>
    t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}`, ...(token === undefined ? {} : { token }), payload: payload as Record<string, unknown> });
  /** The courier's task of `orderId`, once the view has applied `position`. */
  const taskOf = async (k: { token: string }, orderId: string, position: string): Promise<Task> => {
    await drain(owner, ORDER_VIEWS.courierTasks, parsePosition(position));
    const tasks = await t.request({ url: '/v1/couriers/me/tasks', token: k.token });
    assert.equal(tasks.statusCode, 200, tasks.body);
    return (tasks.json().tasks as Task[]).find((x) => x.orderId === orderId)!;
  };

  test('a restaurant is created with a pick-up address (NFC) or without one (null), and the directory lists it', async () => {
    const decomposed = 'Rua de Évora 5, Porto'.normalize('NFD');
    const made = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: `Adega ${randomUUID().slice(0, 8)}`, city: 'Porto', pickupAddress: decomposed } });
    assert.equal(made.statusCode, 201, made.body);
    assert.equal(made.json().pickupAddress, 'Rua de Évora 5, Porto', 'kept in composed form');
    const bare = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: `Bar ${randomUUID().slice(0, 8)}`, city: 'Porto' } });
    assert.deepEqual([bare.statusCode, bare.json().pickupAddress], [201, null], bare.body);
    const listed = (await t.request({ url: '/v1/restaurants?city=Porto' })).json().restaurants as Array<{ id: string; pickupAddress: string | null }>;
    assert.equal(listed.find((x) => x.id === made.json().id)?.pickupAddress, 'Rua de Évora 5, Porto');
    assert.equal(listed.find((x) => x.id === bare.json().id)?.pickupAddress, null);
    for (const pickupAddress of ['', ' Rua 1', 'Rua 1 ', 'Rua\n1', 'Rua \u202e1', 'x'.repeat(501), 7]) {
      const refused = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: `Refused ${randomUUID().slice(0, 8)}`, city: 'Porto', pickupAddress } });
      assert.equal(refused.statusCode, 400, `${JSON.stringify(pickupAddress)}: ${refused.body}`);
    }
  });

  test('PATCH /v1/restaurants/{rid}: its staff or an admin sets and clears the pick-up address (the admin audited); others get 403 or 404, bad bodies 400', async () => {
    const made = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: `Patch ${randomUUID().slice(0, 8)}`, city: 'Porto' } });
    const rid = made.json().id as string;
    const staff = await t.token('staff', { restaurantId: rid, subject: randomUUID() });

    const byStaff = await patch(rid, staff, { pickupAddress: 'Rua do Almada 10, Porto'.normalize('NFD') });
    assert.equal(byStaff.statusCode, 200, byStaff.body);
    assert.deepEqual([byStaff.json().id, byStaff.json().pickupAddress, byStaff.json().name], [rid, 'Rua do Almada 10, Porto', made.json().name]);

    const byAdmin = await patch(rid, admin, { pickupAddress: 'Rua das Flores 20, Porto' });
    assert.deepEqual([byAdmin.statusCode, byAdmin.json().pickupAddress], [200, 'Rua das Flores 20, Porto'], byAdmin.body);
    const audit = await owner.query<{ actor_id: string; method: string; route: string; status: number; target: { params: { rid: string }; pickupAddress: string } }>(
      'select actor_id, method, route, status, target from platform.admin_audit where request_id = $1',
      [String(byAdmin.headers['x-request-id'])],
    );
    assert.deepEqual(
      audit.rows.map((a) => [a.actor_id, a.method, a.route, a.status, a.target.params.rid, a.target.pickupAddress]),
      [['ops', 'PATCH', '/v1/restaurants/:rid', 200, rid, 'Rua das Flores 20, Porto']],
    );

    const cleared = await patch(rid, admin, { pickupAddress: null });
    assert.deepEqual([cleared.statusCode, cleared.json().pickupAddress], [200, null], cleared.body);

    // Who may not.
    const otherStaff = await t.token('staff', { restaurantId: r.rid, subject: randomUUID() });
    const refusals: Array<[string | undefined, number]> = [
      [undefined, 401],
      [await t.token('customer', { subject: randomUUID() }), 403],
      [await t.token('courier', { subject: randomUUID() }), 403],
      [otherStaff, 404],
    ];
    for (const [token, status] of refusals) {
      const refused = await patch(rid, token, { pickupAddress: 'Rua Falsa 1' });
      assert.equal(refused.statusCode, status, refused.body);
    }
    assert.equal((await patch(randomUUID(), admin, { pickupAddress: 'Rua 1' })).statusCode, 404, 'a restaurant the directory does not know');
    // Bad bodies: none, an unknown field (the name is not changed here), a value the name rule refuses.
    for (const payload of [{}, { name: 'Renamed' }, { pickupAddress: 'Rua 1', name: 'Renamed' }, { pickupAddress: '' }, { pickupAddress: ' Rua 1' }, { pickupAddress: 'Rua\u00071' }, { pickupAddress: '\u2066Rua 1' }, { pickupAddress: 'x'.repeat(501) }, { pickupAddress: 5 }]) {
      const refused = await patch(rid, admin, payload);
      assert.deepEqual([refused.statusCode, refused.json().code], [400, 'VALIDATION_FAILED'], `${JSON.stringify(payload)}: ${refused.body}`);
    }
    assert.equal((await patch('not-a-uuid', admin, { pickupAddress: 'Rua 1' })).statusCode, 400);
    const after = (await t.request({ url: '/v1/restaurants?city=Porto' })).json().restaurants as Array<{ id: string; name: string; pickupAddress: string | null }>;
    assert.deepEqual(
      after.filter((x) => x.id === rid).map((x) => [x.name, x.pickupAddress]),
      [[made.json().name, null]],
      'refused requests changed nothing',
    );
  });

  test("a courier's task names the restaurant and its pick-up address, null until set, and the current one after a change made since the order was placed", async () => {
    const c = await customer(t);
    const k = await courier(t);
    await patch(r.rid, admin, { pickupAddress: null });
    const order = await assignedOrder(t, r, c, k);

    const without = await taskOf(k, order.id, order.position);
    assert.deepEqual(
      [without.restaurantId, without.restaurantName, without.pickupAddress, without.pickupUnknown, without.deliveryAddress],
      [r.rid, 'Pick-up Tasca', null, null, 'Rua 1, Porto'],
      'no address yet: the name, and null for the address',
    );

    const set = await patch(r.rid, r.staff, { pickupAddress: 'Rua de Santa Catarina 3, Porto' });
    assert.equal(set.statusCode, 200, set.body);
    const withAddress = await taskOf(k, order.id, order.position);
    assert.deepEqual([withAddress.restaurantName, withAddress.pickupAddress, withAddress.pickupUnknown], ['Pick-up Tasca', 'Rua de Santa Catarina 3, Porto', null]);

    // The restaurant moved its kitchen after the order was placed: the courier goes to the new one.
    assert.equal((await patch(r.rid, admin, { pickupAddress: 'Avenida dos Aliados 9, Porto' })).statusCode, 200);
    const moved = await taskOf(k, order.id, order.position);
    assert.equal(moved.pickupAddress, 'Avenida dos Aliados 9, Porto');

    // A second restaurant's task on the same page carries its own.
    const other = await seedRestaurant(t, 'Second Kitchen');
    await patch(other.rid, admin, { pickupAddress: 'Rua Nova 2, Porto' });
    const second = await assignedOrder(t, other, c, k);
    const tasks = (await (async () => {
      await drain(owner, ORDER_VIEWS.courierTasks, parsePosition(second.position));
      return (await t.request({ url: '/v1/couriers/me/tasks', token: k.token })).json().tasks as Task[];
    })()).map((x) => [x.orderId, x.restaurantName, x.pickupAddress]);
    assert.deepEqual(tasks.sort(), [[order.id, 'Pick-up Tasca', 'Avenida dos Aliados 9, Porto'], [second.id, 'Second Kitchen', 'Rua Nova 2, Porto']].sort());
  });

  test('the OpenAPI document describes the new fields: the restaurant\'s pickupAddress, the PATCH body, and the tasks\' restaurantName, pickupAddress and pickupUnknown', async () => {
    const spec = (await t.request({ url: '/docs/json' })).json();
    const tasks = JSON.stringify(spec.paths['/v1/couriers/me/tasks'].get.responses['200']);
    for (const field of ['restaurantName', 'pickupAddress', 'pickupUnknown']) assert.match(tasks, new RegExp(`\`${field}\``), field);
    const patchOp = spec.paths['/v1/restaurants/{rid}'].patch;
    assert.ok(JSON.stringify(patchOp.requestBody).includes('pickupAddress'));
    assert.ok(JSON.stringify(patchOp.responses['200']).includes('pickupAddress'));
    assert.ok(JSON.stringify(spec.paths['/v1/restaurants'].post.requestBody).includes('pickupAddress'));
  });
});
