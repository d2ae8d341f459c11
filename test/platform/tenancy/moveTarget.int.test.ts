import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { refuseTargetIsSource } from '../../../src/platform/tenancy/refuseTargetIsSource.ts';
import { createTestDatabase, useTestDatabase } from '../../support/db.ts';
import { startTestPlatform } from '../../support/platform.ts';

test('a dedicated database serves one restaurant: a move into a database that already serves another is refused before anything is copied', async () => {
  const t = await startTestPlatform();
  const target = await createTestDatabase({ empty: true });
  try {
    const admin = await t.token('admin', { subject: 'ops' });
    const make = async (name: string) => (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city: 'Lisbon' } })).json().id as string;
    const first = await make('First');
    const second = await make('Second');
    const move = (tenantId: string) => moveTenant({ tenantId, sourceUrl: t.db.url, targetUrl: target.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
    await move(first);

    await assert.rejects(move(second), (error: { code?: string; message?: string }) => error.code === 'TENANT_TARGET_IN_USE' && error.message?.includes('new, empty database') === true);
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      const copied = await client.query(`select count(*)::int as n from platform.restaurants where id = $1`, [second]);
      assert.equal(copied.rows[0].n, 0, 'nothing of the second restaurant reached the database');
    } finally {
      await client.end();
    }
    const staff = await t.token('staff', { restaurantId: second });
    assert.equal((await t.request({ url: `/v1/restaurants/${second}/staff`, token: staff })).statusCode, 200, 'the second restaurant is served from the shared database as before');
  } finally {
    await t.close();
    await target.drop();
  }
});

test('a move refuses a target that is the shared database itself, one that holds another restaurant (a failed move left it), and a role that cannot see past Row-Level Security', async () => {
  const t = await startTestPlatform();
  const leftover = await createTestDatabase({ empty: true });
  // Not named brigade_…: roles are the cluster's, and a test running beside this one lists the service roles by that prefix.
  const role = `move_probe_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: t.db.url });
  await admin.connect();
  try {
    const token = await t.token('admin', { subject: 'ops' });
    const make = async (name: string) => (await t.request({ method: 'POST', url: '/v1/restaurants', token, payload: { name, city: 'Lisbon' } })).json().id as string;
    const first = await make('First');
    const second = await make('Second');
    const move = (tenantId: string, targetUrl: string, sourceUrl = t.db.url) => moveTenant({ tenantId, sourceUrl, targetUrl, sets: migrationSets(), schemas: MOVING_SCHEMAS });
    const refusedWith = (code: string) => (error: { code?: string }) => error.code === code;

    // The shared database under another spelling of its URL.
    await assert.rejects(move(first, `${t.db.url}?application_name=same-database`), refusedWith('TENANT_TARGET_IS_SOURCE'));

    // A database where a failed move of the first restaurant left its copy (not in the catalog).
    await move(first, leftover.url);
    const copy = new pg.Client({ connectionString: leftover.url });
    await copy.connect();
    await copy.query(`delete from platform.tenant_placements`); // nothing there; the catalog is the shared one's
    await copy.end();
    await admin.query(`delete from platform.tenant_placements where tenant_id = $1`, [first]); // as if the source never committed
    await assert.rejects(move(second, leftover.url), refusedWith('TENANT_TARGET_IN_USE'));

    // A connection role that neither is a superuser nor has BYPASSRLS would see no row of the tenant.
    // With a password: the embedded server authenticates by password, the system one may trust.
    await admin.query(`create role ${role} login password 'move-probe'`);
    const weak = new URL(t.db.url);
    weak.username = role;
    weak.password = 'move-probe';
    await assert.rejects(move(second, `${t.db.url}?application_name=x`, weak.toString()), refusedWith('TENANT_MOVE_NEEDS_BYPASSRLS'));
  } finally {
    await admin.query(`drop role if exists ${role}`).catch(() => undefined);
    await admin.end();
    await t.close();
    await leftover.drop();
  }
});

test('two moves of one restaurant at once: one moves it, the other is refused once it gets the fence, and the restaurant lives in exactly one database', async () => {
  const t = await startTestPlatform();
  const a = await createTestDatabase({ empty: true });
  const b = await createTestDatabase({ empty: true });
  try {
    const token = await t.token('admin', { subject: 'ops' });
    const rid = (await t.request({ method: 'POST', url: '/v1/restaurants', token, payload: { name: 'Twice', city: 'Lisbon' } })).json().id as string;
    const move = (targetUrl: string) => moveTenant({ tenantId: rid, sourceUrl: t.db.url, targetUrl, sets: migrationSets(), schemas: MOVING_SCHEMAS }).then(() => 'moved', (error: { code?: string }) => error.code ?? String(error));
    const outcomes = await Promise.all([move(a.url), move(b.url)]);
    assert.deepEqual([...outcomes].sort(), ['TENANT_ALREADY_DEDICATED', 'moved']);
    const where = outcomes[0] === 'moved' ? a : b;
    const elsewhere = outcomes[0] === 'moved' ? b : a;
    const restaurantsIn = async (url: string) => {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        return (await c.query(`select count(*)::int as n from platform.restaurants where id = $1`, [rid])).rows[0].n as number;
      } catch (error) {
        // Never migrated (no such table or schema): the refused move stopped before. Anything else is a real failure.
        if (['42P01', '3F000'].includes((error as { code?: string }).code ?? '')) return 0;
        throw error;
      } finally {
        await c.end();
      }
    };
    assert.equal(await restaurantsIn(where.url), 1);
    assert.equal(await restaurantsIn(elsewhere.url), 0, 'the refused move left no copy');
    const staff = await t.token('staff', { restaurantId: rid });
    assert.equal((await t.request({ url: `/v1/restaurants/${rid}/staff`, token: staff })).statusCode, 200);
  } finally {
    await t.close();
    await a.drop();
    await b.drop();
  }
});

// The check tells the databases apart by an advisory lock (advisory locks are per database), and lets
// go of it in both sessions whatever it answers: a lock left held would stay for the whole move.
describe('refuseTargetIsSource', () => {
  const one = useTestDatabase({ empty: true });
  const two = useTestDatabase({ empty: true });
  const open = async (url: string) => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    return client;
  };
  const advisoryLocksOf = async (client: pg.Client) =>
    (await client.query<{ n: number }>(`select count(*)::int as n from pg_locks where locktype = 'advisory' and pid = pg_backend_pid()`)).rows[0]!.n;

  test('refuses a target that is the source under another URL, lets another database through, and leaves no lock held in either session', async () => {
    const source = await open(one.db.url);
    const same = await open(`${one.db.url}?application_name=same-database`);
    const other = await open(two.db.url);
    try {
      await assert.rejects(refuseTargetIsSource(source, same), (error: { code?: string; message?: string }) => error.code === 'TENANT_TARGET_IS_SOURCE' && error.message?.startsWith('The target is the shared database itself') === true);
      await refuseTargetIsSource(source, other);
      assert.deepEqual([await advisoryLocksOf(source), await advisoryLocksOf(same), await advisoryLocksOf(other)], [0, 0, 0]);
    } finally {
      await Promise.all([source.end(), same.end(), other.end()]);
    }
  });
});
