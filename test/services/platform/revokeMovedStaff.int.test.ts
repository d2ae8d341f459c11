import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { adminQuery, urlFor } from '../../support/db.ts';
import { testEnv } from '../../support/env.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';

/**
 * Decision 0007, "Fixed later (fiftieth session, 7 Dec 2026)": a revocation's `unmatched` ("No staff
 * has the id …: check the spelling") is said only when no database has the staff member. A restaurant
 * moved to its own database took its `platform.staff` rows with it, and the look-up read only the
 * shared database, so revoking a real staff member of a moved restaurant told the operator to doubt a
 * correct id. A dedicated database that does not answer drops the hint: nobody can say.
 */
describe('revoking a staff member of a restaurant that moved to its own database', () => {
  let t: TestPlatform;
  let admin: string;
  let movedStaff: string;
  let stayedStaff: string;
  let dedicated: { name: string; url: string } | undefined;

  type Revocation = { role: string; subject: string; unmatched?: string };
  const revoke = async (subject: string): Promise<Revocation> => {
    const res = await t.request({ method: 'POST', url: '/v1/admin/token-revocations', token: admin, payload: { role: 'staff', subject, reason: 'left' } });
    assert.equal(res.statusCode, 200, res.body);
    return res.json() as Revocation;
  };
  const restaurantWithStaff = async (name: string) => {
    const created = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city: 'Porto' } });
    assert.equal(created.statusCode, 201, created.body);
    const rid = created.json().id as string;
    const added = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/staff`, token: admin, payload: { name: 'Ana', email: `ana-${randomUUID()}@example.com` } });
    assert.equal(added.statusCode, 201, added.body);
    return { rid, staffId: added.json().id as string };
  };

  before(async () => {
    t = await startTestPlatform();
    admin = await t.token('admin', { subject: 'ops' });
    const moved = await restaurantWithStaff('Moved Tasca');
    movedStaff = moved.staffId;
    stayedStaff = (await restaurantWithStaff('Stayed Tasca')).staffId;
    const name = `brigade_t_${testEnv.runId}_${randomBytes(4).toString('hex')}`;
    await adminQuery(`create database "${name}"`);
    dedicated = { name, url: urlFor(name) };
    await moveTenant({ tenantId: moved.rid, sourceUrl: t.db.url, targetUrl: dedicated.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
  });
  after(async () => {
    await t?.close();
    if (dedicated !== undefined) await adminQuery(`drop database if exists "${dedicated.name}" with (force)`);
  });

  test('the moved restaurant\'s staff member is found in its database: no unmatched (before: "No staff has the id … check the spelling")', async () => {
    const revoked = await revoke(movedStaff);
    assert.equal(revoked.subject, movedStaff);
    assert.equal(revoked.unmatched, undefined, revoked.unmatched);
  });

  test('a staff member of the shared database is found as before; an id nobody has is still unmatched', async () => {
    assert.equal((await revoke(stayedStaff)).unmatched, undefined);
    assert.match((await revoke(randomUUID())).unmatched ?? '', /No staff has the id .*check the spelling/);
  });

  // Last: it takes the moved restaurant's database away.
  test('while a dedicated database does not answer, an id found nowhere gets no unmatched: the revocation stands, the hint is dropped', async () => {
    await adminQuery(`drop database "${dedicated!.name}" with (force)`);
    const nobody = randomUUID();
    const revoked = await revoke(nobody);
    assert.equal(revoked.subject, nobody);
    assert.equal(revoked.unmatched, undefined, 'the missing database may hold them');
    assert.equal((await revoke(stayedStaff)).unmatched, undefined, 'one found in the shared database needs no other');
  });
});
