import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { before, describe, test } from 'node:test';
import { commitStatements, createDatabases, RolledBackError, unitOfWork, type Databases } from '../../src/platform/db/index.ts';
import { ValidationError } from '../../src/platform/errors/index.ts';
import { useTestDatabase } from '../support/db.ts';

describe('unitOfWork on a pool of size 1', () => {
  const database = useTestDatabase();
  let dbs: Databases;
  before(() => {
    dbs = createDatabases({ url: database.db.url, poolSize: 1 });
    database.defer(() => dbs.close());
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
    const admin = dbs.poolForUrl(database.db.url);
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

  test('after a caught value error that sent nothing, the next statements still run as the role and tenant, inside the transaction', async () => {
    const admin = dbs.poolForUrl(database.db.url);
    await admin.query('create table if not exists menu.uow_value_probe (x int); grant select, insert on menu.uow_value_probe to brigade_menu');
    const pool = dbs.poolFor('menu');
    const tenant = randomUUID();
    const unbindable = { n: 1n }; // JSON.stringify throws on a BigInt: the driver cannot send it
    const context = { service: 'menu', tenantId: tenant, actor: { kind: 'staff' as const, id: randomUUID() } };

    // The value error in the very first batch (nothing sent, not even BEGIN), caught; the unit goes on and then throws.
    let inside: Seen | undefined;
    await assert.rejects(
      unitOfWork(pool, context, async (tx) => {
        await assert.rejects(tx.query('select $1::jsonb', [unbindable]), { name: 'StatementValueError' });
        inside = (await tx.query<Seen>(seen)).rows[0];
        await tx.query('insert into menu.uow_value_probe values (1)');
        throw new Error('abort after the insert');
      }),
      /abort after the insert/,
    );
    assert.deepEqual([inside?.role, inside?.tenant, inside?.kind], ['brigade_menu', tenant, 'staff']);
    assert.deepEqual((await admin.query('select x from menu.uow_value_probe')).rows, [], 'the throw rolled the insert back');

    // The same when the next statement is queued while the failing batch is still on its way.
    const seenNext = await unitOfWork(pool, context, async (tx) => {
      const failing = tx.query('select $1::jsonb', [unbindable]);
      await Promise.resolve();
      await Promise.resolve();
      const next = tx.query<Seen>(seen);
      await assert.rejects(failing, { name: 'StatementValueError' });
      await tx.query('insert into menu.uow_value_probe values (2)');
      return (await next).rows[0];
    });
    assert.deepEqual([seenNext?.role, seenNext?.tenant], ['brigade_menu', tenant]);
    assert.deepEqual((await admin.query('select x from menu.uow_value_probe')).rows, [{ x: 2 }], 'committed once, at the end');
  });

  test('a service role cannot touch another service’s schema', async () => {
    const admin = dbs.poolForUrl(database.db.url);
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

describe('batches: statements issued together travel together', () => {
  const database = useTestDatabase();
  let dbs: Databases;
  before(async () => {
    dbs = createDatabases({ url: database.db.url, poolSize: 1 });
    database.defer(() => dbs.close());
    await dbs.poolForUrl(database.db.url).query('create table menu.batch_probe (x int primary key); grant select, insert on menu.batch_probe to brigade_menu');
  });
  const rows = async () => (await dbs.poolForUrl(database.db.url).query<{ x: number }>('select x from menu.batch_probe order by x')).rows.map((r) => r.x);
  const ctx = { service: 'menu', actor: { kind: 'system' as const, id: 'test' } };

  test('commitStatements: results in order, as the role and settings; a failure in the middle runs nothing after it and writes nothing', async () => {
    const pool = dbs.poolFor('menu');
    const [inserted, seen] = await commitStatements(pool, ctx, [
      { text: 'insert into menu.batch_probe values ($1) returning x', values: [1] },
      { text: `select current_user as role, current_setting('brigade.actor_id', true) as actor` },
    ]);
    assert.deepEqual(inserted?.rows, [{ x: 1 }]);
    assert.deepEqual(seen?.rows, [{ role: 'brigade_menu', actor: 'test' }]);
    const failure = await commitStatements(pool, ctx, [
      { text: 'insert into menu.batch_probe values ($1)', values: [2] },
      { text: 'insert into menu.batch_probe values ($1)', values: [1] },
      { text: 'insert into menu.batch_probe values ($1)', values: [3] },
    ]).then(
      () => assert.fail('the duplicate key must fail the batch'),
      (e: unknown) => e as Error & { code?: string; batchIndex?: number },
    );
    assert.equal(failure.code, '23505');
    assert.deepEqual(await rows(), [1], 'the batch was one transaction: 2 rolled back, 3 never ran');
    // The same connection (pool of one) is idle and carries nothing over.
    const [after] = await commitStatements(pool, { service: 'menu' }, [{ text: `select current_setting('brigade.actor_id', true) as actor` }]);
    assert.deepEqual(after?.rows, [{ actor: '' }]);
  });

  test('commitStatements with readOnly runs inside BEGIN READ ONLY and refuses a write', async () => {
    const pool = dbs.poolFor('menu');
    await assert.rejects(commitStatements(pool, { ...ctx, readOnly: true }, [{ text: 'insert into menu.batch_probe values (9)' }]), /read-only transaction/);
    const [read] = await commitStatements(pool, { ...ctx, readOnly: true }, [{ text: 'select count(*)::int as n from menu.batch_probe' }]);
    assert.deepEqual(read?.rows, [{ n: 1 }]);
  });

  test('unitOfWork: statements issued without awaiting share a batch, so one after a failed one does not run', async () => {
    const pool = dbs.poolFor('menu');
    const outcome = await unitOfWork(pool, ctx, (tx) =>
      Promise.allSettled([tx.query('insert into menu.batch_probe values (1)'), tx.query('insert into menu.batch_probe values (4)')]),
    ).then(
      () => assert.fail('the failed statement rolls the unit of work back'),
      (e: unknown) => e,
    );
    assert.ok(outcome instanceof RolledBackError, String(outcome));
    assert.deepEqual(await rows(), [1]);
    let outcomes: string[] = [];
    await assert.rejects(
      unitOfWork(pool, ctx, async (tx) => {
        const both = await Promise.allSettled([tx.query('insert into menu.batch_probe values (1)'), tx.query('insert into menu.batch_probe values (5)')]);
        outcomes = both.map((b) => (b.status === 'rejected' ? (b.reason as Error).name : 'ran'));
      }),
      RolledBackError,
    );
    assert.deepEqual(outcomes, ['error', 'BatchAbortedError'], 'the second statement was in the failed one\'s batch and never ran');
    assert.deepEqual(await rows(), [1]);
  });

  test('unitOfWork: a function that swallows a failed statement gets RolledBackError at COMMIT, and nothing is written', async () => {
    const pool = dbs.poolFor('menu');
    await assert.rejects(
      unitOfWork(pool, ctx, async (tx) => {
        await tx.query('insert into menu.batch_probe values (6)');
        await tx.query('insert into menu.batch_probe values (1)').catch(() => undefined);
      }),
      RolledBackError,
    );
    assert.deepEqual(await rows(), [1]);
  });

  test('a named statement prepared before a migration changed the type of a column it returns is prepared afresh: a read-only batch retries at once, a unit of work on its next use', async () => {
    const pool = dbs.poolFor('menu');
    const admin = dbs.poolForUrl(database.db.url);
    await admin.query('create table menu.retyped (x int); insert into menu.retyped values (7); grant select on menu.retyped to brigade_menu');
    const read = { name: 'brigade_test_retyped', text: 'select x from menu.retyped' };
    const inUnit = () => unitOfWork(pool, ctx, async (tx) => (await tx.query(read)).rows);
    const alone = async () => (await commitStatements(pool, { ...ctx, readOnly: true }, [read]))[0]!.rows;
    assert.deepEqual(await inUnit(), [{ x: 7 }]);
    assert.deepEqual(await alone(), [{ x: 7 }], 'prepared on the one connection, used again');
    await admin.query('alter table menu.retyped alter column x type text');
    assert.deepEqual(await alone(), [{ x: '7' }], 'the read-only batch was refused once and sent again, prepared afresh');
    await admin.query('alter table menu.retyped alter column x type bigint using x::bigint');
    await assert.rejects(inUnit(), /cached plan must not change result type/, 'a unit of work cannot be run again for its function: it fails once');
    assert.deepEqual(await inUnit(), [{ x: '7' }], 'and its next use prepares the statement afresh (a bigint comes as text)');
    assert.deepEqual(await alone(), [{ x: '7' }]);
  });

  test('a batch whose backend the server ends says nothing was written (phase work), read-only or writing; a writing one whose connection is lost without an answer, that it may have been', async () => {
    const pool = dbs.poolFor('menu');
    const admin = database.pool(1); // not the pool of one connection the batch holds
    /** Runs a sleep in `pool`'s batch; once it runs, `end(pid)` ends it somehow. Resolves with the batch's error. */
    const fail = async (on: import('pg').Pool, readOnly: boolean, end: (pid: number) => Promise<unknown>) => {
      const pid = (await commitStatements(on, { ...ctx, readOnly: true }, [{ text: 'select pg_backend_pid() as pid' }]))[0]!.rows[0].pid as number;
      const slow = commitStatements(on, { ...ctx, readOnly }, [{ text: 'select pg_sleep(30)' }]).then(
        () => assert.fail('the batch must fail'),
        (e: unknown) => e as { code?: string; phase?: string; message: string },
      );
      for (;;) {
        const { rows } = await admin.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where pid = $1 and query like '%pg_sleep%'`, [pid]);
        if (rows[0]!.n === 1) break;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      await end(pid);
      return slow;
    };
    // Ended by the server as the sleep runs (an administrator, a shutdown): its FATAL answer says the
    // transaction rolled back. A writing batch said "may have been saved" before (review, thirty-eighth session).
    const terminate = (pid: number) => admin.query('select pg_terminate_backend($1)', [pid]);
    for (const readOnly of [true, false]) {
      const ended = await fail(pool, readOnly, terminate);
      assert.deepEqual([ended.code, ended.phase], ['DATABASE_UNAVAILABLE', 'work'], ended.message);
      assert.match(ended.message, /nothing was written/);
    }
    // Lost with no answer (the network between them cut, as a failover may): a writing batch may have committed.
    const sockets = new Set<net.Socket>();
    const proxy = net.createServer((client) => {
      const server = net.connect(Number(new URL(database.db.url).port || 5432), new URL(database.db.url).hostname);
      for (const socket of [client, server]) {
        sockets.add(socket);
        socket.on('error', () => undefined);
      }
      client.pipe(server).pipe(client);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const proxied = new URL(database.db.url);
    proxied.hostname = '127.0.0.1';
    proxied.port = String((proxy.address() as net.AddressInfo).port);
    const cut = createDatabases({ url: proxied.toString(), poolSize: 1 });
    try {
      const lost = await fail(cut.poolFor('menu'), false, async (pid) => {
        for (const socket of sockets) socket.destroy();
        // Its backend would sleep on, unaware: ended so the database can be dropped.
        await terminate(pid);
      });
      assert.deepEqual([lost.code, lost.phase], ['DATABASE_UNAVAILABLE', 'commit'], lost.message);
      assert.match(lost.message, /may or may not have been saved/);
    } finally {
      await cut.close();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  test('unitOfWork: a function that runs no statement sends nothing, not even its setup', async () => {
    // An unknown service has no role; with nothing to run, nothing reaches the database to fail.
    assert.equal(await unitOfWork(dbs.poolFor('menu'), { service: 'nosuch' }, async () => 42), 42);
  });
});

describe('service roles (catalog)', () => {
  const database = useTestDatabase();
  let dbs: Databases;
  before(() => {
    dbs = createDatabases({ url: database.db.url, poolSize: 2 });
    database.defer(() => dbs.close());
  });

  test('app roles cannot log in, are not superusers, cannot bypass RLS and own nothing', async () => {
    const pool = dbs.poolForUrl(database.db.url);
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
