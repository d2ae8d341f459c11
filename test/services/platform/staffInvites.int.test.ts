import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createDatabases, unitOfWork, type Actor, type Databases } from '../../../src/platform/db/index.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';

// Who may add whom to a restaurant's staff, and who is recorded as having invited them. A staff
// token's subject is whatever it was minted with (a new UUID by default): it is a staff member of the
// restaurant only when it names one of its platform.staff rows.
describe('staff invites: managers are added by managers or admins, the inviter is the caller', () => {
  let t: TestPlatform;
  let dbs: Databases;
  let admin: string;
  let a: string;
  let b: string;
  let manager: string;
  let cook: string;
  let otherTenantsStaff: string;
  let anyStaffOfA: string;
  let managerOfA: string;
  let cookOfA: string;

  const add = (rid: string, token: string, payload: Record<string, unknown>) =>
    t.request({ method: 'POST', url: `/v1/restaurants/${rid}/staff`, token, payload: { name: 'New', email: `new-${randomUUID()}@example.com`, ...payload } });
  const staffOf = async (rid: string) => (await t.request({ url: `/v1/restaurants/${rid}/staff`, token: admin })).json().staff as Array<{ id: string; role: string; invitedBy: string | null }>;

  before(async () => {
    t = await startTestPlatform();
    dbs = createDatabases({ url: t.db.url, poolSize: 1 });
    admin = await t.token('admin', { subject: 'ops' });
    const restaurant = async (name: string) => {
      const created = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city: 'Lisbon' } });
      assert.equal(created.statusCode, 201, created.body);
      return created.json().id as string;
    };
    a = await restaurant('Alpha');
    b = await restaurant('Bravo');
    const first = await add(a, admin, { role: 'manager' });
    assert.equal(first.statusCode, 201, first.body);
    manager = first.json().id;
    const second = await add(a, admin, {});
    assert.equal(second.statusCode, 201, second.body);
    cook = second.json().id;
    const foreign = await add(b, admin, {});
    assert.equal(foreign.statusCode, 201, foreign.body);
    otherTenantsStaff = foreign.json().id;
    anyStaffOfA = await t.token('staff', { restaurantId: a }); // `brigade token --role staff --restaurant A`: a random subject
    managerOfA = await t.token('staff', { restaurantId: a, subject: manager });
    cookOfA = await t.token('staff', { restaurantId: a, subject: cook });
  });
  after(async () => {
    await dbs?.close();
    await t.close();
  });

  test('a staff token whose subject is no manager of the restaurant cannot add a manager: 403, nothing written', async () => {
    const before = (await staffOf(a)).length;
    for (const token of [anyStaffOfA, cookOfA]) {
      const refused = await add(a, token, { role: 'manager' });
      assert.deepEqual([refused.statusCode, refused.json().code], [403, 'FORBIDDEN'], refused.body);
      assert.match(refused.json().detail, /manager/);
    }
    // A manager of another restaurant is no manager here.
    const bManager = await add(b, admin, { role: 'manager' });
    const managerOfB = await t.token('staff', { restaurantId: a, subject: bManager.json().id });
    assert.equal((await add(a, managerOfB, { role: 'manager' })).statusCode, 403);
    assert.equal((await staffOf(a)).length, before);
  });

  test('a manager of the restaurant and an admin add managers; the inviter recorded is the caller', async () => {
    const byManager = await add(a, managerOfA, { role: 'manager' });
    assert.equal(byManager.statusCode, 201, byManager.body);
    assert.deepEqual([byManager.json().role, byManager.json().invitedBy], ['manager', manager]);
    const byAdmin = await add(a, admin, { role: 'manager' });
    assert.deepEqual([byAdmin.statusCode, byAdmin.json().role, byAdmin.json().invitedBy], [201, 'manager', null]);
  });

  test('any staff token of the restaurant still adds staff; invitedBy is its subject when that is a staff member here, else null', async () => {
    const byCook = await add(a, cookOfA, {});
    assert.deepEqual([byCook.statusCode, byCook.json().role, byCook.json().invitedBy], [201, 'staff', cook]);
    const byAnyone = await add(a, anyStaffOfA, { role: 'staff' });
    assert.deepEqual([byAnyone.statusCode, byAnyone.json().invitedBy], [201, null]);
    // Sending one's own id is accepted (the field is part of the published schema).
    const explicit = await add(a, cookOfA, { invitedBy: cook });
    assert.deepEqual([explicit.statusCode, explicit.json().invitedBy], [201, cook]);
  });

  test('an invitedBy that is not the caller is 400 on invitedBy, the same for another restaurant’s staff member and a missing one', async () => {
    const attempt = async (token: string, invitedBy: string) => {
      const response = await add(a, token, { invitedBy });
      return { status: response.statusCode, code: response.json().code, field: response.json().field, detail: response.json().detail };
    };
    const before = (await staffOf(a)).length;
    const foreign = await attempt(cookOfA, otherTenantsStaff);
    const missing = await attempt(cookOfA, randomUUID());
    assert.deepEqual([foreign.status, foreign.code, foreign.field], [400, 'VALIDATION_FAILED', 'body.invitedBy']);
    assert.match(foreign.detail, /omit invitedBy/);
    assert.deepEqual(foreign, missing, 'the answer reveals nothing about the other tenant');
    // Another staff member of the same restaurant is not the caller either, nor anyone for an admin or
    // for a staff token whose subject is no staff member.
    assert.deepEqual(await attempt(cookOfA, manager), missing);
    assert.deepEqual(await attempt(anyStaffOfA, cook), missing);
    assert.deepEqual(await attempt(admin, manager), missing);
    assert.equal((await staffOf(a)).length, before, 'nothing was written');
  });

  // Decision 0007, "Fixed later (fiftieth session, 7 Dec 2026)": the database holds the manager rule
  // too, not only addStaff. Bare SQL in a staff actor's transaction of restaurant A, as a route or an
  // injected statement would run it.
  describe('at the database: a plain staff member cannot make a manager, nor change a role', () => {
    const inA = <T>(actor: Actor, sql: string, values: unknown[] = []) =>
      unitOfWork(dbs.poolFor('platform'), { service: 'platform', tenantId: a, actor }, (tx) => tx.query<T & Record<string, unknown>>(sql, values));
    const insertAs = (actor: Actor, role: 'manager' | 'staff') =>
      inA<{ role: string }>(actor, `insert into platform.staff (tenant_id, name, email, role) values ($1, 'Raw', $2, $3) returning role`, [a, `raw-${randomUUID()}@example.com`, role]);
    const roleOf = async (id: string) => (await dbs.poolForUrl(t.db.url).query<{ role: string }>('select role from platform.staff where id = $1', [id])).rows[0]?.role;
    const refused = { code: '42501' };

    test("a plain staff member's UPDATE of their own role is refused (before: rowCount 1, and they were a manager)", async () => {
      await assert.rejects(inA({ kind: 'staff', id: cook }, `update platform.staff set role = 'manager' where id = $1`, [cook]), refused);
      await assert.rejects(inA({ kind: 'staff', id: manager }, `update platform.staff set role = 'staff' where id = $1`, [cook]), refused, "not even a manager changes a role");
      await assert.rejects(inA({ kind: 'admin', id: 'ops' }, `update platform.staff set name = 'Renamed' where id = $1`, [cook]), refused, 'no route updates staff rows');
      assert.equal(await roleOf(cook), 'staff');
    });

    test('a plain staff member, a random subject or a manager of another restaurant INSERTs no manager (42501); staff they still add', async () => {
      const bManager = (await add(b, admin, { role: 'manager' })).json().id as string;
      for (const actor of [{ kind: 'staff', id: cook }, { kind: 'staff', id: randomUUID() }, { kind: 'staff', id: bManager }, { kind: 'staff', id: 'not-a-uuid' }] as const) {
        await assert.rejects(insertAs(actor, 'manager'), refused, actor.id);
      }
      assert.deepEqual((await insertAs({ kind: 'staff', id: cook }, 'staff')).rows, [{ role: 'staff' }]);
    });

    test("a manager's and an admin's INSERT of a manager still succeed", async () => {
      assert.deepEqual((await insertAs({ kind: 'staff', id: manager }, 'manager')).rows, [{ role: 'manager' }]);
      assert.deepEqual((await insertAs({ kind: 'admin', id: 'ops' }, 'manager')).rows, [{ role: 'manager' }]);
    });

    test("a staff member deletes no staff row, their manager's included (before: any of their restaurant's)", async () => {
      const deleted = await inA({ kind: 'staff', id: cook }, `delete from platform.staff where id = $1`, [manager]);
      assert.equal(deleted.rowCount, 0);
      assert.equal(await roleOf(manager), 'manager');
    });
  });
});
