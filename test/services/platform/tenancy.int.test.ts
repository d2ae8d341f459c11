import assert from 'node:assert/strict';
import { randomInt, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createDatabases, unitOfWork, type Databases, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';

interface Tenant {
  id: string;
  staffToken: string;
  staffIds: string[];
}

describe('tenancy: restaurants as tenants under Row-Level Security', () => {
  let t: TestPlatform;
  let dbs: Databases;
  let admin: string;
  const tenants: Tenant[] = [];
  const staffOf = (tenant: Tenant): UnitOfWorkContext => ({ service: 'platform', tenantId: tenant.id, actor: { kind: 'staff', id: randomUUID() } });

  before(async () => {
    t = await startTestPlatform();
    dbs = createDatabases({ url: t.db.url, poolSize: 1 });
    admin = await t.token('admin', { subject: 'ops' });
    for (const name of ['Alpha', 'Bravo', 'Charlie']) {
      const created = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city: 'Lisbon' } });
      assert.equal(created.statusCode, 201, created.body);
      const id = created.json().id as string;
      const staffToken = await t.token('staff', { restaurantId: id });
      const staffIds: string[] = [];
      for (let i = 0; i < 3; i++) {
        const added = await t.request({ method: 'POST', url: `/v1/restaurants/${id}/staff`, token: staffToken, payload: { name: `${name} ${i}`, email: `${name}${i}@example.com`.toLowerCase() } });
        assert.equal(added.statusCode, 201, added.body);
        staffIds.push(added.json().id);
      }
      tenants.push({ id, staffToken, staffIds });
    }
  });
  after(async () => {
    await dbs.close();
    await t.close();
  });

  test('raw SQL with the WHERE left out returns only the current tenant’s rows', async () => {
    for (const tenant of tenants) {
      const rows = await unitOfWork(dbs.poolFor('platform'), staffOf(tenant), async (tx) => (await tx.query<{ tenant_id: string }>('select tenant_id from platform.staff')).rows);
      assert.equal(rows.length, 3);
      assert.ok(rows.every((r) => r.tenant_id === tenant.id));
    }
  });

  test('two tenants take turns on one pooled connection without seeing each other', async () => {
    const pool = dbs.poolFor('platform'); // size 1: every turn is the same connection
    for (let turn = 0; turn < 6; turn++) {
      const tenant = tenants[turn % 2] as Tenant;
      const seen = await unitOfWork(pool, staffOf(tenant), async (tx) => (await tx.query<{ tenant_id: string; pid: number }>('select tenant_id, pg_backend_pid() as pid from platform.staff')).rows);
      assert.deepEqual([...new Set(seen.map((r) => r.tenant_id))], [tenant.id]);
    }
  });

  test('no tenant set: a tenant-scoped query returns zero rows and a write is refused', async () => {
    const pool = dbs.poolFor('platform');
    const noTenant: UnitOfWorkContext = { service: 'platform', actor: { kind: 'staff', id: randomUUID() } };
    assert.deepEqual(await unitOfWork(pool, noTenant, async (tx) => (await tx.query('select * from platform.staff')).rows), []);
    assert.deepEqual(await unitOfWork(pool, { service: 'platform' }, async (tx) => (await tx.query('select * from platform.staff')).rows), []);
    await assert.rejects(
      unitOfWork(pool, noTenant, (tx) => tx.query(`insert into platform.staff (tenant_id, name, email) values ($1, 'x', 'x@example.com')`, [tenants[0]?.id])),
      /new row violates row-level security policy/,
    );
  });

  test('writes carrying another tenant’s id are rejected by WITH CHECK', async () => {
    const [a, b] = tenants as [Tenant, Tenant];
    const pool = dbs.poolFor('platform');
    await assert.rejects(
      unitOfWork(pool, staffOf(a), (tx) => tx.query(`insert into platform.staff (tenant_id, name, email) values ($1, 'Mole', 'mole@example.com')`, [b.id])),
      /new row violates row-level security policy for table "staff"/,
    );
    // Moving one's own row into another tenant is refused too, as is any update of a staff row since
    // migration 0040 (the role may not update the table; decision 0007, fiftieth session).
    await assert.rejects(
      unitOfWork(pool, staffOf(a), (tx) => tx.query(`update platform.staff set tenant_id = $1 where id = $2`, [b.id, a.staffIds[0]])),
      { code: '42501', message: /permission denied for table staff/ },
    );
    // A delete aimed at another tenant's row touches nothing.
    const deleted = await unitOfWork(pool, staffOf(a), (tx) => tx.query(`delete from platform.staff where id = $1`, [b.staffIds[0]]));
    assert.equal(deleted.rowCount, 0);
  });

  test('a foreign key to another tenant’s row fails exactly like one to a missing row', async () => {
    const [a, b] = tenants as [Tenant, Tenant];
    // Over HTTP the inviter is the caller, never a body's id (staffInvites.int.test.ts); the key still
    // holds at the SQL level: under RLS PostgreSQL leaves the key values out of the error, so the
    // message for another tenant's row and for a missing one is the same text.
    const sqlError = (invitedBy: string) =>
      unitOfWork(dbs.poolFor('platform'), staffOf(a), (tx) =>
        tx.query(`insert into platform.staff (tenant_id, name, email, invited_by) values ($1, 'x', 'y@example.com', $2)`, [a.id, invitedBy]),
      ).then(
        () => null,
        (e: { code?: string; message?: string; detail?: string }) => ({ code: e.code, message: e.message, detail: e.detail }),
      );
    const foreignSql = await sqlError(b.staffIds[0] as string);
    assert.deepEqual(foreignSql, await sqlError(randomUUID()));
    assert.equal(foreignSql?.code, '23503');
    assert.equal(foreignSql?.detail, 'Key is not present in table "staff".');
    // Inviting one of one's own staff works.
    assert.equal(await sqlError(a.staffIds[0] as string), null);
  });

  test('another tenant’s id over HTTP gets 404, never 403', async () => {
    const [a, b] = tenants as [Tenant, Tenant];
    for (const url of [`/v1/restaurants/${b.id}/staff`, `/v1/restaurants/${b.id}/staff/${b.staffIds[0]}`, `/v1/restaurants/${a.id}/staff/${b.staffIds[0]}`]) {
      const response = await t.request({ url, token: a.staffToken });
      assert.equal(response.statusCode, 404, url);
      assert.equal(response.json().code, 'NOT_FOUND');
    }
    const write = await t.request({ method: 'POST', url: `/v1/restaurants/${b.id}/staff`, token: a.staffToken, payload: { name: 'x', email: 'x@example.com' } });
    assert.equal(write.statusCode, 404);
  });

  test('tokens: missing 401, expired 401, forged 401, wrong role 403', async () => {
    const a = tenants[0] as Tenant;
    const url = `/v1/restaurants/${a.id}/staff`;
    assert.equal((await t.request({ url })).statusCode, 401);
    const expired = await t.platform.deps.tokens.sign({ role: 'staff', restaurantId: a.id }, -60);
    const e = await t.request({ url, token: expired });
    assert.deepEqual([e.statusCode, e.json().code], [401, 'TOKEN_EXPIRED']);
    const forged = `${a.staffToken.slice(0, -4)}AAAA`;
    const f = await t.request({ url, token: forged });
    assert.deepEqual([f.statusCode, f.json().code], [401, 'TOKEN_INVALID']);
    const customer = await t.token('customer');
    const c = await t.request({ url, token: customer });
    assert.deepEqual([c.statusCode, c.json().code], [403, 'FORBIDDEN']);
    const courierMintsToken = await t.request({ method: 'POST', url: '/v1/tokens', token: await t.token('courier'), payload: { role: 'admin' } });
    assert.equal(courierMintsToken.statusCode, 403);
    // An admin mints staff tokens only for restaurants the directory knows, and reads only their staff.
    const unknown = randomUUID();
    const staffOfNowhere = await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: { role: 'staff', restaurantId: unknown } });
    assert.deepEqual([staffOfNowhere.statusCode, staffOfNowhere.json().code], [404, 'NOT_FOUND']);
    const staffOfA = await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: { role: 'staff', restaurantId: a.id } });
    assert.equal(staffOfA.statusCode, 201);
    // The same for the live-board and its stream: an admin reads a known restaurant's board, not an unknown one's.
    assert.equal((await t.request({ url: `/v1/restaurants/${a.id}/board`, token: admin })).statusCode, 200);
    for (const request of [
      { url: `/v1/restaurants/${unknown}/staff` },
      { method: 'POST' as const, url: `/v1/restaurants/${unknown}/staff`, payload: { name: 'Nobody', email: 'nobody@example.com' } },
      { url: `/v1/restaurants/${unknown}/board` },
      { url: `/v1/restaurants/${unknown}/board/stream` },
    ]) {
      const answered = await t.request({ ...request, token: admin });
      assert.deepEqual([answered.statusCode, answered.json().code], [404, 'NOT_FOUND'], request.url);
    }
    // No header can set the tenant: a staff token of A with a header naming B still sees only A.
    const spoof = await t.request({ url: `/v1/restaurants/${a.id}/staff`, token: a.staffToken, headers: { 'x-tenant-id': tenants[1]?.id as string } });
    assert.ok((spoof.json().staff as Array<{ restaurantId: string }>).every((s) => s.restaurantId === a.id));
  });

  test('customers and couriers see only themselves', async () => {
    const signUp = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Ann', email: 'ann@example.com', address: '1 Main St' } });
    assert.equal(signUp.statusCode, 201, signUp.body);
    const other = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Bob', email: 'bob@example.com', address: '2 Main St' } });
    const me = await t.request({ url: '/v1/customers/me', token: signUp.json().token });
    assert.deepEqual([me.statusCode, me.json().email], [200, 'ann@example.com']);
    const duplicate = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Ann2', email: 'ANN@example.com', address: 'x' } });
    assert.deepEqual([duplicate.statusCode, duplicate.json().code], [409, 'ALREADY_EXISTS']);
    const seen = await unitOfWork(dbs.poolFor('platform'), { service: 'platform', actor: { kind: 'customer', id: signUp.json().id } }, async (tx) =>
      (await tx.query<{ id: string }>('select id from platform.customers')).rows.map((r) => r.id),
    );
    assert.deepEqual(seen, [signUp.json().id]);
    assert.notEqual(other.json().id, signUp.json().id);

    const courier = await t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name: 'Carl', city: 'Lisbon' } });
    assert.equal(courier.statusCode, 201);
    await t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name: 'Dora', city: 'Lisbon' } });
    const courierToken = await t.token('courier', { subject: courier.json().id });
    assert.equal((await t.request({ url: '/v1/couriers/me', token: courierToken })).json().name, 'Carl');
    const couriers = await unitOfWork(dbs.poolFor('platform'), { service: 'platform', actor: { kind: 'courier', id: courier.json().id } }, async (tx) =>
      (await tx.query('select id from platform.couriers')).rows,
    );
    assert.equal(couriers.length, 1);
  });

  test('every admin request is audited with who did what', async () => {
    const created = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Audited', city: 'Porto' } });
    const refused = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: '', city: 'Porto' } });
    assert.equal(refused.statusCode, 400);
    const rows = (
      await dbs.poolForUrl(t.db.url).query<{ actor_id: string; method: string; route: string; status: number; request_id: string }>(
        `select actor_id, method, route, status, request_id from platform.admin_audit where request_id = any($1) order by id`,
        [[created.headers['x-request-id'], refused.headers['x-request-id']]],
      )
    ).rows;
    assert.deepEqual(
      rows.map((r) => [r.actor_id, r.method, r.route, r.status]),
      [
        ['ops', 'POST', '/v1/restaurants', 201],
        ['ops', 'POST', '/v1/restaurants', 400],
      ],
    );
    // The app role can append to the audit log but not rewrite it.
    await assert.rejects(
      unitOfWork(dbs.poolFor('platform'), { service: 'platform', actor: { kind: 'admin', id: 'ops' } }, (tx) => tx.query('delete from platform.admin_audit')),
      /permission denied for table admin_audit/,
    );
  });

  test('an admin request with U+0000 in its path or query gets the 400 everyone gets, and its audit entry is written with a stand-in for it', async () => {
    const staff = tenants[0]!.staffToken;
    const answer = (r: { statusCode: number; json(): { code?: string; field?: string } }) => [r.statusCode, r.json().code, r.json().field];
    // Anyone else gets the same answer, but on the dead letters, which are for admins only.
    const sent = [
      { url: '/v1/restaurants?city=a%00b', expected: [400, 'VALIDATION_FAILED', 'querystring.city'] },
      { url: '/v1/admin/dead-letters/%00', expected: [400, 'VALIDATION_FAILED', 'params.id'] },
      { url: '/v1/no-such%00route', expected: [400, 'VALIDATION_FAILED', 'params.*'] },
    ];
    const requestIds: string[] = [];
    for (const { url, expected } of sent) {
      const admins = await t.request({ url, token: admin });
      // Before: 503 AUDIT_UNAVAILABLE ("a change it made stands"), as jsonb refused the NUL of the entry.
      assert.deepEqual(answer(admins), expected, `${url}: ${admins.body}`);
      if (!url.startsWith('/v1/admin/')) {
        for (const token of [undefined, staff]) assert.deepEqual(answer(admins), answer(await t.request({ url, token })), `${url}: ${admins.body}`);
      }
      requestIds.push(String(admins.headers['x-request-id']));
    }
    const rows = (
      await dbs.poolForUrl(t.db.url).query<{ route: string; status: number; target: { params: Record<string, unknown>; query: Record<string, unknown> } }>(
        'select route, status, target from platform.admin_audit where request_id = any($1) order by id',
        [requestIds],
      )
    ).rows;
    assert.equal(rows.length, 3, 'every refused admin request is in the audit table');
    // An unknown route's entry names the URL as sent (its NUL still percent-encoded) and the 400.
    assert.deepEqual(
      rows.map((r) => [r.route, r.status]),
      [
        ['/v1/restaurants', 400],
        ['/v1/admin/dead-letters/:id', 400],
        ['/v1/no-such%00route', 400],
      ],
    );
    // The NUL is written as the six characters \u0000, so the entry still shows what was sent.
    assert.deepEqual(
      rows.map((r) => [r.target.params, r.target.query]),
      [
        [{}, { city: 'a\\u0000b' }],
        [{ id: '\\u0000' }, {}],
        [{ '*': 'v1/no-such\\u0000route' }, {}],
      ],
    );
  });

  test("a token an admin mints under another name traces back to them: the mint's entry says what was minted, the token's entries who minted it", async () => {
    const minted = await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: { role: 'admin', subject: 'alice', ttlSeconds: 3600 } });
    assert.equal(minted.statusCode, 201, minted.body);
    const alice = minted.json().token as string;
    const used = await t.request({ method: 'POST', url: '/v1/restaurants', token: alice, payload: { name: 'Minted', city: 'Porto' } });
    assert.equal(used.statusCode, 201, used.body);
    const rows = (
      await dbs.poolForUrl(t.db.url).query<{ actor_id: string; route: string; target: Record<string, unknown> }>(
        'select actor_id, route, target from platform.admin_audit where request_id = any($1) order by id',
        [[minted.headers['x-request-id'], used.headers['x-request-id']]],
      )
    ).rows;
    // Before, the mint's entry held only {params, query}, and alice's entries named alice alone.
    assert.deepEqual(
      rows.map((r) => [r.actor_id, r.route, (r.target.minted as { subject?: string } | undefined)?.subject, r.target.mintedBy]),
      [
        ['ops', '/v1/tokens', 'alice', undefined],
        ['alice', '/v1/restaurants', undefined, 'ops'],
      ],
    );
    assert.deepEqual({ ...(rows[0]!.target.minted as object), expiresAt: undefined }, { role: 'admin', subject: 'alice', restaurantId: null, expiresAt: undefined, mintChain: ['ops'] });
    assert.deepEqual(rows[1]!.target.mintChain, ['ops']);

    // A token minted with alice's: its chain names both, in the mint's entry and in its own requests',
    // so that the audit finds every token minted through an admin who is revoked (decision 0007).
    const second = await t.request({ method: 'POST', url: '/v1/tokens', token: alice, payload: { role: 'admin', subject: 'bob', ttlSeconds: 3600 } });
    assert.equal(second.statusCode, 201, second.body);
    const usedByBob = await t.request({ url: '/v1/restaurants', token: second.json().token });
    assert.equal(usedByBob.statusCode, 200, usedByBob.body);
    const chained = (
      await dbs.poolForUrl(t.db.url).query<{ actor_id: string; target: Record<string, unknown> }>(
        "select actor_id, target from platform.admin_audit where request_id = any($1) and target->'minted'->'mintChain' ? 'ops' or request_id = $2 order by id",
        [[second.headers['x-request-id']], usedByBob.headers['x-request-id']],
      )
    ).rows;
    assert.deepEqual(
      chained.map((r) => [r.actor_id, (r.target.minted as { mintChain?: unknown } | undefined)?.mintChain, r.target.mintChain]),
      [
        ['alice', ['alice', 'ops'], ['ops']],
        ['bob', undefined, ['alice', 'ops']],
      ],
    );
  });

  test('an admin request whose audit entry cannot be written gets 503, not its answer', async () => {
    const owner = dbs.poolForUrl(t.db.url);
    await owner.query('alter table platform.admin_audit add constraint refuse_all check (false) not valid');
    try {
      const created = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Unaudited', city: 'Porto' } });
      assert.equal(created.statusCode, 503, created.body);
      assert.equal(created.headers['content-type'], 'application/problem+json; charset=utf-8');
      assert.deepEqual([created.json().code, created.json().handledStatus], ['AUDIT_UNAVAILABLE', 201]);
      assert.match(created.json().detail, /change it made stands/);
      const listed = await t.request({ url: '/v1/restaurants', token: admin });
      assert.deepEqual([listed.statusCode, listed.json().code], [503, 'AUDIT_UNAVAILABLE']);
      assert.doesNotMatch(listed.body, /Unaudited|Alpha/);
      // Requests without an admin token are not audited, so they are not held up.
      const staff = await t.request({ url: `/v1/restaurants/${tenants[0]!.id}/staff`, token: tenants[0]!.staffToken });
      assert.equal(staff.statusCode, 200);
    } finally {
      await owner.query('alter table platform.admin_audit drop constraint refuse_all');
    }
  });

  test('fuzz: 1,000 random (actor, resource) pairs across 3 tenants return zero cross-tenant rows', async () => {
    const pool = dbs.poolFor('platform');
    const allStaff = tenants.flatMap((tenant) => tenant.staffIds.map((id) => ({ id, tenant: tenant.id })));
    let rowsSeen = 0;
    for (let i = 0; i < 1000; i++) {
      const actor = tenants[randomInt(3)] as Tenant;
      const target = tenants[randomInt(3)] as Tenant;
      const member = allStaff[randomInt(allStaff.length)] as { id: string; tenant: string };
      const kind = randomInt(5);
      let tenantIds: string[];
      if (kind === 0) {
        const r = await t.request({ url: `/v1/restaurants/${target.id}/staff`, token: actor.staffToken });
        tenantIds = r.statusCode === 200 ? (r.json().staff as Array<{ restaurantId: string }>).map((s) => s.restaurantId) : [];
        assert.equal(r.statusCode, actor === target ? 200 : 404);
      } else if (kind === 1) {
        const r = await t.request({ url: `/v1/restaurants/${target.id}/staff/${member.id}`, token: actor.staffToken });
        tenantIds = r.statusCode === 200 ? [r.json().restaurantId] : [];
        assert.equal(r.statusCode, actor === target && member.tenant === target.id ? 200 : 404);
      } else {
        const sql = [
          ['select tenant_id from platform.staff where id = $1', [member.id]],
          ['select tenant_id from platform.staff where tenant_id = $1', [target.id]],
          ['select s.tenant_id from platform.staff s join platform.staff i on i.tenant_id = s.tenant_id where i.id = $1', [member.id]],
        ][kind - 2] as [string, unknown[]];
        tenantIds = await unitOfWork(pool, staffOf(actor), async (tx) => (await tx.query<{ tenant_id: string }>(sql[0], sql[1])).rows.map((r) => r.tenant_id));
      }
      rowsSeen += tenantIds.length;
      assert.ok(
        tenantIds.every((id) => id === actor.id),
        `pair ${i}: actor of ${actor.id} saw rows of ${tenantIds.join(',')}`,
      );
    }
    assert.ok(rowsSeen > 100, 'the fuzz saw the actors’ own rows, so the zero cross-tenant count means something');
  });
});
