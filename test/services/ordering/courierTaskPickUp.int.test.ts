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

  /** A PATCH of the restaurant, with `ifMatch` (by default the ETag its GET answers now; `null`: none). */
  const patch = async (rid: string, token: string | undefined, payload: unknown, ifMatch?: string | null) => {
    const tag = ifMatch === undefined ? ((await t.request({ url: `/v1/restaurants/${rid}` })).headers.etag as string | undefined) : ifMatch;
    return t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}`, ...(token === undefined ? {} : { token }), ...(tag == null ? {} : { headers: { 'if-match': tag } }), payload: payload as Record<string, unknown> });
  };
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
    assert.equal((await patch(randomUUID(), admin, { pickupAddress: 'Rua 1' }, '"1"')).statusCode, 404, 'a restaurant the directory does not know');
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

  // Found by the review of the new routes (forty-eighth session, findings 1, 3 and 4).
  test("the restaurant records who changed its pick-up address last and when: a staff member's change too; its admins and staff read it, the public does not", async () => {
    const rid = (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: `Who ${randomUUID().slice(0, 8)}`, city: 'Porto' } })).json().id as string;
    const fresh = (await t.request({ url: `/v1/restaurants/${rid}`, token: admin })).json();
    assert.deepEqual([fresh.pickupAddressChangedBy, fresh.pickupAddressChangedAt], [null, null], 'never changed');
    const sid = randomUUID();
    const staff = await t.token('staff', { restaurantId: rid, subject: sid });
    const byStaff = await patch(rid, staff, { pickupAddress: 'Rua Leaked 1' });
    assert.equal(byStaff.statusCode, 200, byStaff.body);
    assert.equal(byStaff.json().pickupAddressChangedBy, `staff:${sid}`, 'the answer names the caller');
    const seen = (await t.request({ url: `/v1/restaurants/${rid}`, token: admin })).json();
    assert.equal(seen.pickupAddressChangedBy, `staff:${sid}`, 'an admin sees which staff member changed it');
    assert.ok(Math.abs(Date.parse(seen.pickupAddressChangedAt) - Date.now()) < 60_000, seen.pickupAddressChangedAt);
    assert.equal((await t.request({ url: `/v1/restaurants/${rid}`, token: staff })).json().pickupAddressChangedBy, `staff:${sid}`, 'and so does its staff');
    const anonymous = (await t.request({ url: `/v1/restaurants/${rid}` })).json();
    assert.ok(!('pickupAddressChangedBy' in anonymous) && !('pickupAddressChangedAt' in anonymous), `the public directory does not name staff: ${JSON.stringify(anonymous)}`);
    const otherStaff = (await t.request({ url: `/v1/restaurants/${rid}`, token: await t.token('staff', { restaurantId: r.rid, subject: randomUUID() }) })).json();
    assert.ok(!('pickupAddressChangedBy' in otherStaff), "nor to another restaurant's staff");
    const listed = (await t.request({ url: '/v1/restaurants?city=Porto', token: admin })).json().restaurants as Array<Record<string, unknown>>;
    assert.ok(listed.every((x) => !('pickupAddressChangedBy' in x)), 'the list stays the public directory');
    const byAdmin = await patch(rid, admin, { pickupAddress: null });
    assert.deepEqual([byAdmin.statusCode, byAdmin.json().pickupAddressChangedBy], [200, 'admin:ops'], byAdmin.body);
  });

  test('PATCH /v1/restaurants/{rid} takes If-Match as the menu\'s PATCHes do: the ETag of GET, 428 without one, 412 for a stale one (nothing changed), a new ETag after', async () => {
    const rid = (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: `Match ${randomUUID().slice(0, 8)}`, city: 'Porto' } })).json().id as string;
    const staff = await t.token('staff', { restaurantId: rid, subject: randomUUID() });
    const read = await t.request({ url: `/v1/restaurants/${rid}` });
    assert.deepEqual([read.headers.etag, read.json().version], ['"1"', 1], read.body);
    const missing = await patch(rid, staff, { pickupAddress: 'Rua 1' }, null);
    assert.deepEqual([missing.statusCode, missing.json().code], [428, 'PRECONDITION_REQUIRED'], missing.body);
    const first = await patch(rid, staff, { pickupAddress: 'Rua 1' }, '"1"');
    assert.deepEqual([first.statusCode, first.headers.etag, first.json().version], [200, '"2"', 2], first.body);
    // A second staff member who read version 1 too: refused, told the current version.
    const stale = await patch(rid, admin, { pickupAddress: 'Rua 2' }, '"1"');
    assert.deepEqual([stale.statusCode, stale.json().code, stale.headers.etag], [412, 'CONCURRENCY_CONFLICT', '"2"'], stale.body);
    assert.match(stale.json().detail, /read it again/);
    for (const bad of ['*', '"1", "2"', 'abc']) assert.equal((await patch(rid, staff, { pickupAddress: 'Rua 3' }, bad)).statusCode, 400, bad);
    assert.equal((await patch(rid, staff, { pickupAddress: 'Rua 3' }, 'W/"2"')).statusCode, 200, 'a weak tag of the current version');
    const now = await t.request({ url: `/v1/restaurants/${rid}` });
    assert.deepEqual([now.json().pickupAddress, now.headers.etag], ['Rua 3', '"3"'], 'the refused writes changed nothing');
    assert.equal((await patch(randomUUID(), admin, { pickupAddress: 'Rua 1' }, '"1"')).statusCode, 404, 'an unknown restaurant is a 404 still');
  });

  test("POST /v1/restaurants audits the restaurant it made and its pick-up address, as brigade tenants add does", async () => {
    const name = `Audited ${randomUUID().slice(0, 8)}`;
    const made = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city: 'porto', pickupAddress: 'Rua do Audit 1' } });
    assert.equal(made.statusCode, 201, made.body);
    const audit = await owner.query<{ target: { created?: Record<string, unknown> } }>('select target from platform.admin_audit where request_id = $1', [String(made.headers['x-request-id'])]);
    assert.deepEqual(audit.rows.map((a) => a.target.created), [{ id: made.json().id, name, city: 'Porto', pickupAddress: 'Rua do Audit 1' }]);
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
    // If-Match and the ETag (finding 3), who changed the address (finding 1).
    assert.ok(patchOp.parameters.some((p: { in: string; name: string }) => p.in === 'header' && p.name.toLowerCase() === 'if-match'), 'the PATCH takes If-Match');
    for (const status of ['412', '428']) assert.ok(patchOp.responses[status], status);
    for (const op of [patchOp, spec.paths['/v1/restaurants/{rid}'].get]) assert.ok(op.responses['200'].headers?.ETag ?? op.responses['200'].headers?.etag, 'ETag');
    assert.ok(JSON.stringify(spec.paths['/v1/restaurants/{rid}'].get.responses['200']).includes('pickupAddressChangedBy'));
  });
});
