import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createDatabases, unitOfWork, type Databases } from '../../src/platform/db/index.ts';
import { ValidationError } from '../../src/platform/errors/index.ts';
import { createTestDatabase, type TestDatabase } from '../support/db.ts';

describe('unitOfWork on a pool of size 1', () => {
  let db: TestDatabase;
  let dbs: Databases;
  before(async () => {
    db = await createTestDatabase();
    dbs = createDatabases({ url: db.url, poolSize: 1 });
  });
  after(async () => {
    await dbs.close();
    await db.drop();
  });

  const seen = `select current_user as role, current_setting('brigade.tenant_id', true) as tenant,
                      current_setting('brigade.actor_kind', true) as kind, current_setting('brigade.actor_id', true) as actor,
                      pg_backend_pid() as pid`;
  type Seen = { role: string; tenant: string | null; kind: string | null; actor: string | null; pid: number };

  test('two tenants in turn on one connection never see each other’s role or settings', async () => {
    const pool = dbs.poolFor('menu');
    const a = randomUUID();
    const b = randomUUID();
    const inA = await unitOfWork(pool, { service: 'menu', tenantId: a, actor: { kind: 'staff', id: randomUUID() } }, async (tx) => (await tx.query<Seen>(seen)).rows[0]);
    const inB = await unitOfWork(pool, { service: 'ordering', tenantId: b, actor: { kind: 'customer', id: 'c-1' } }, async (tx) => (await tx.query<Seen>(seen)).rows[0]);
    const none = await unitOfWork(pool, { service: 'delivery' }, async (tx) => (await tx.query<Seen>(seen)).rows[0]);
    assert.equal(inA?.pid, inB?.pid, 'the same pooled connection served both');
    assert.equal(inB?.pid, none?.pid);
    assert.deepEqual([inA?.role, inA?.tenant, inA?.kind], ['brigade_menu', a, 'staff']);
    assert.deepEqual([inB?.role, inB?.tenant, inB?.kind, inB?.actor], ['brigade_ordering', b, 'customer', 'c-1']);
    assert.deepEqual([none?.role, none?.tenant, none?.kind, none?.actor], ['brigade_delivery', '', '', '']);

    // Outside any unit of work the connection is back to its login role with no tenant at all.
    const client = await pool.connect();
    try {
      const after = (await client.query<Seen>(seen)).rows[0];
      assert.equal(after?.pid, inA?.pid);
      assert.notEqual(after?.role, 'brigade_delivery');
      assert.ok(after?.tenant === null || after?.tenant === '', `tenant leaked: ${after?.tenant}`);
    } finally {
      client.release();
    }
  });

  test('a rolled-back unit of work leaves nothing behind either', async () => {
    const pool = dbs.poolFor('menu');
    const tenant = randomUUID();
    await assert.rejects(
      unitOfWork(pool, { service: 'menu', tenantId: tenant }, async (tx) => {
        await tx.query('select 1');
        throw new Error('boom');
      }),
      /boom/,
    );
    // The failed statement case: the transaction is aborted inside fn; the connection must still be clean.
    await assert.rejects(unitOfWork(pool, { service: 'menu', tenantId: tenant }, (tx) => tx.query('select * from no_such_table')), /does not exist/);
    const next = await unitOfWork(pool, { service: 'payments' }, async (tx) => (await tx.query<Seen>(seen)).rows[0]);
    assert.deepEqual([next?.role, next?.tenant], ['brigade_payments', '']);
  });

  test('commits on success, rolls back on error, and runs afterCommit only after a commit', async () => {
    const admin = dbs.poolForUrl(db.url);
    await admin.query('create table if not exists menu.uow_probe (x int); grant select, insert on menu.uow_probe to brigade_menu');
    const pool = dbs.poolFor('menu');
    const calls: string[] = [];
    await unitOfWork(pool, { service: 'menu' }, async (tx) => {
      await tx.query('insert into menu.uow_probe values (1)');
      tx.afterCommit(() => void calls.push('committed'));
    });
    await assert.rejects(
      unitOfWork(pool, { service: 'menu' }, async (tx) => {
        await tx.query('insert into menu.uow_probe values (2)');
        tx.afterCommit(() => void calls.push('must not run'));
        throw new Error('abort');
      }),
    );
    assert.deepEqual(calls, ['committed']);
    assert.deepEqual((await admin.query('select x from menu.uow_probe')).rows, [{ x: 1 }]);
  });

  test('a service role cannot touch another service’s schema', async () => {
    const admin = dbs.poolForUrl(db.url);
    await admin.query('create table if not exists payments.secret (x int)');
    await assert.rejects(unitOfWork(dbs.poolFor('menu'), { service: 'menu' }, (tx) => tx.query('select * from payments.secret')), /permission denied for schema payments/);
  });

  test('context values are validated before anything reaches SQL', async () => {
    const pool = dbs.poolFor('menu');
    await assert.rejects(unitOfWork(pool, { service: 'menu', tenantId: "x'; drop table t; --" }, async () => 1), ValidationError);
    await assert.rejects(unitOfWork(pool, { service: 'Menu; reset role' }, async () => 1), ValidationError);
    await assert.rejects(unitOfWork(pool, { service: 'menu', actor: { kind: 'root' as 'admin', id: 'x' } }, async () => 1), ValidationError);
    // An unknown service has no role: the setup fails (with the first statement it travels with) and
    // the connection is still good afterwards.
    await assert.rejects(unitOfWork(pool, { service: 'nosuch' }, (tx) => tx.query('select 1')), /role "brigade_nosuch" does not exist/);
    assert.equal(await unitOfWork(pool, { service: 'menu' }, async (tx) => (await tx.query<{ one: number }>('select 1 as one')).rows[0]?.one), 1);
  });
});

describe('service roles (catalog)', () => {
  let db: TestDatabase;
  let dbs: Databases;
  before(async () => {
    db = await createTestDatabase();
    dbs = createDatabases({ url: db.url, poolSize: 2 });
  });
  after(async () => {
    await dbs.close();
    await db.drop();
  });

  test('app roles cannot log in, are not superusers, cannot bypass RLS and own nothing', async () => {
    const pool = dbs.poolForUrl(db.url);
    const roles = (
      await pool.query<{ rolname: string; rolsuper: boolean; rolbypassrls: boolean; rolcanlogin: boolean; rolcreaterole: boolean; owned: string }>(
        `select r.rolname, r.rolsuper, r.rolbypassrls, r.rolcanlogin, r.rolcreaterole,
                (select count(*) from pg_class c where c.relowner = r.oid)
              + (select count(*) from pg_namespace n where n.nspowner = r.oid)
              + (select count(*) from pg_proc p where p.proowner = r.oid) as owned
           from pg_roles r where r.rolname like 'brigade\\_%' order by r.rolname`,
      )
    ).rows;
    assert.deepEqual(roles.map((r) => r.rolname), ['brigade_delivery', 'brigade_menu', 'brigade_ordering', 'brigade_payments', 'brigade_platform']);
    for (const r of roles) {
      assert.deepEqual([r.rolname, r.rolsuper, r.rolbypassrls, r.rolcanlogin, r.rolcreaterole, Number(r.owned)], [r.rolname, false, false, false, false, 0]);
    }
    const schemas = (await pool.query<{ nspname: string }>(`select nspname from pg_namespace where nspname in ('platform','menu','ordering','delivery','payments') order by 1`)).rows;
    assert.deepEqual(schemas.map((s) => s.nspname), ['delivery', 'menu', 'ordering', 'payments', 'platform']);
  });
});
