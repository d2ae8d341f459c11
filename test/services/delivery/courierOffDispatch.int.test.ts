import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { command, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../ordering/support.ts';

/**
 * An admin takes a courier off dispatch (`POST /v1/couriers/:courierId/availability` with
 * `available: false`), and revoking a courier's tokens does it too (decision 0040 and 0007, "Fixed
 * later (forty-seventh session, 7 Dec 2026)"). Before, a courier whose tokens were revoked stayed
 * `available`: the dispatch and staff's picker went on giving them orders they could never act on,
 * and no admin could take them off (the route was 404 ROUTE_NOT_FOUND). Through the whole platform,
 * with the ports as the composition root wires them.
 */
describe('taking a courier off dispatch', () => {
  let t: TestPlatform;
  let r: SeededRestaurant;
  let admin: string;
  let owner: pg.Pool;

  before(async () => {
    t = await startTestPlatform();
    owner = new pg.Pool({ connectionString: t.db.url, max: 1 });
    r = await seedRestaurant(t, 'Casa Dispatch');
    admin = await t.token('admin', { subject: 'ops' });
  });
  after(async () => {
    await owner?.end();
    await t?.close();
  });

  /** A courier of Porto registered by an admin, made available by themselves unless `never`. */
  const courierIn = async (name: string, available = true) => {
    const made = await t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name, city: 'Porto' } });
    assert.equal(made.statusCode, 201, made.body);
    const id = made.json().id as string;
    const token = await t.token('courier', { subject: id });
    if (available) {
      const on = await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token, payload: { available: true } });
      assert.equal(on.statusCode, 200, on.body);
    }
    return { id, token };
  };
  const takeOff = (courierId: string, token = admin, payload: unknown = { available: false }) =>
    t.request({ method: 'POST', url: `/v1/couriers/${courierId}/availability`, token, payload: payload as Record<string, unknown> });
  const readAsAdmin = (courierId: string, token = admin) => t.request({ method: 'GET', url: `/v1/couriers/${courierId}/availability`, token });
  const listed = async (courierId: string) =>
    ((await t.request({ method: 'GET', url: `/v1/restaurants/${r.rid}/couriers`, token: r.staff })).json() as { couriers: Array<{ courierId: string; status: string }> }).couriers.find((k) => k.courierId === courierId);
  /** A new order of the restaurant, accepted (version 2, no courier). */
  const acceptedOrder = async () => {
    const c = await customer(t);
    const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 5, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
    const id = placed.json().id as string;
    assert.equal((await command(t, r.staff, id, 'accept', 1)).statusCode, 200);
    return id;
  };
  const revoke = async (role: string, subject: string) => {
    const res = await t.request({ method: 'POST', url: '/v1/admin/token-revocations', token: admin, payload: { role, subject, reason: 'left' } });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as { role: string; subject: string; takenOffDispatch?: string };
  };

  test('an admin takes an available courier off dispatch: offline, not in staff\'s list, read back by the admin; the audit entry says what became of them (before: 404 ROUTE_NOT_FOUND)', async () => {
    const ana = await courierIn('Ana');
    assert.equal((await listed(ana.id))?.status, 'available');
    const res = await takeOff(ana.id);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { courierId: ana.id, city: 'Porto', status: 'offline', availableSince: null, currentOrderId: null, afterCurrentOrder: null, notice: null });
    assert.equal(await listed(ana.id), undefined, "out of staff's list");
    const read = await readAsAdmin(ana.id);
    assert.equal(read.statusCode, 200, read.body);
    assert.deepEqual(read.json(), res.json());
    assert.deepEqual((await t.request({ url: '/v1/couriers/me/availability', token: ana.token })).json(), res.json(), 'the courier reads the same');
    // Taking off again, and a courier who never said they were available: offline, 200.
    assert.equal((await takeOff(ana.id)).json().status, 'offline');
    const never = await courierIn('Nuno', false);
    const neverRes = await takeOff(never.id);
    assert.equal(neverRes.statusCode, 200, neverRes.body);
    assert.deepEqual([neverRes.json().status, neverRes.json().availableSince], ['offline', null]);
    assert.deepEqual((await readAsAdmin(never.id)).json().status, 'offline');
    const { rows } = await owner.query(`select target from platform.admin_audit where route = '/v1/couriers/:courierId/availability' and method = 'POST' order by id`);
    assert.equal(rows.length, 3);
    assert.deepEqual(rows[0].target.takenOffDispatch, { courierId: ana.id, status: 'offline', currentOrderId: null });
    // The courier may come back themselves ("Start taking deliveries").
    const back = await t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: ana.token, payload: { available: true } });
    assert.equal(back.json().status, 'available');
  });

  test("a busy courier taken off dispatch stops after their current order: afterCurrentOrder offline, out of staff's list, staff's assign-courier refused with 422 COURIER_STOPPING", async () => {
    const bea = await courierIn('Bea');
    const x = await acceptedOrder();
    assert.equal((await command(t, r.staff, x, 'assign-courier', 2, { courierId: bea.id })).statusCode, 200);
    assert.equal((await listed(bea.id))?.status, 'busy');
    const res = await takeOff(bea.id);
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json(), { courierId: bea.id, city: 'Porto', status: 'busy', availableSince: null, currentOrderId: x, afterCurrentOrder: 'offline', notice: null });
    assert.equal(await listed(bea.id), undefined);
    const refused = await command(t, r.staff, await acceptedOrder(), 'assign-courier', 2, { courierId: bea.id });
    assert.deepEqual([refused.statusCode, refused.json().code], [422, 'COURIER_STOPPING'], refused.body);
  });

  test('who may: an admin only (staff and courier 403, no token 401); an unknown courier 404; available: true is 400 naming body.available, and changes nothing', async () => {
    const lia = await courierIn('Lia');
    assert.equal((await takeOff(lia.id, r.staff)).statusCode, 403);
    assert.equal((await takeOff(lia.id, lia.token)).statusCode, 403);
    assert.equal((await readAsAdmin(lia.id, r.staff)).statusCode, 403);
    assert.equal((await t.request({ method: 'POST', url: `/v1/couriers/${lia.id}/availability`, payload: { available: false } })).statusCode, 401);
    const ghost = await takeOff(randomUUID());
    assert.deepEqual([ghost.statusCode, ghost.json().code], [404, 'NOT_FOUND'], ghost.body);
    assert.equal((await readAsAdmin(randomUUID())).statusCode, 404);
    const on = await takeOff(lia.id, admin, { available: true });
    assert.equal(on.statusCode, 400, on.body);
    assert.equal(on.json().field, 'body.available');
    assert.match(on.json().detail, /Start taking deliveries/);
    assert.equal((await takeOff(lia.id, admin, {})).statusCode, 400);
    assert.equal((await takeOff('not-a-uuid')).statusCode, 400);
    assert.equal((await listed(lia.id))?.status, 'available', 'nothing changed');
  });

  test("revoking a courier's tokens takes them off dispatch, and the answer says so; a busy one stops after their order, and the answer says what to do with it; another role's revocation says nothing of dispatch (before: they stayed available and were given orders)", async () => {
    const rui = await courierIn('Rui');
    const said = await revoke('courier', rui.id);
    assert.match(said.takenOffDispatch ?? '', /taken off dispatch/, JSON.stringify(said));
    assert.equal(await listed(rui.id), undefined, "out of staff's list");
    assert.deepEqual([(await readAsAdmin(rui.id)).json().status], ['offline']);

    const eva = await courierIn('Eva');
    const x = await acceptedOrder();
    assert.equal((await command(t, r.staff, x, 'assign-courier', 2, { courierId: eva.id })).statusCode, 200);
    const busy = await revoke('courier', eva.id);
    assert.match(busy.takenOffDispatch ?? '', new RegExp(`order ${x}`), JSON.stringify(busy));
    assert.match(busy.takenOffDispatch ?? '', /assign-courier/);
    assert.deepEqual((await readAsAdmin(eva.id)).json().afterCurrentOrder, 'offline');
    assert.equal(await listed(eva.id), undefined);

    // A subject no courier of the directory has: revoked, and nothing on dispatch to take off.
    const nobody = await revoke('courier', randomUUID());
    assert.match(nobody.takenOffDispatch ?? '', /not registered/);
    assert.equal((await revoke('staff', randomUUID())).takenOffDispatch, undefined);
  });

  test('a revocation that delivery cannot follow (its writes refused) stands, is answered 503 COURIER_STILL_ON_DISPATCH saying to revoke again, and is audited; revoking again takes the courier off', async () => {
    const ivo = await courierIn('Ivo');
    await owner.query('revoke insert, update on delivery.courier_availability from brigade_delivery');
    let res;
    try {
      res = await t.request({ method: 'POST', url: '/v1/admin/token-revocations', token: admin, payload: { role: 'courier', subject: ivo.id } });
    } finally {
      await owner.query('grant insert, update on delivery.courier_availability to brigade_delivery');
    }
    assert.equal(res.statusCode, 503, res.body);
    assert.equal(res.json().code, 'COURIER_STILL_ON_DISPATCH');
    assert.match(res.json().detail, /were revoked .*revoke again/);
    assert.equal((await t.request({ url: '/v1/couriers/me/availability', token: ivo.token })).json().code, 'TOKEN_REVOKED', 'the revocation stands');
    assert.equal((await listed(ivo.id))?.status, 'available', 'still on dispatch');
    const { rows } = await owner.query(`select status, target from platform.admin_audit where route = '/v1/admin/token-revocations' and target->'revoked'->>'subject' = $1`, [ivo.id]);
    assert.deepEqual(rows.map((row) => [row.status, row.target.takenOffDispatch]), [[503, null]]);
    assert.match((await revoke('courier', ivo.id)).takenOffDispatch ?? '', /taken off dispatch/);
    assert.equal(await listed(ivo.id), undefined);
  });
});
