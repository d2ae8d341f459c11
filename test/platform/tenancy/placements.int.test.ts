import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import net from 'node:net';
import pg from 'pg';
import { createDatabases, unitOfWork, type Databases, type Tx, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { ValidationError } from '../../../src/platform/errors/index.ts';
import { createPlacementCatalog, createTenantRouter, listDedicatedDatabases, type TenantRouter } from '../../../src/platform/tenancy/index.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../../support/db.ts';
import { deferred } from '../events/support.ts';
import { eventually } from '../../support/eventually.ts';
import { silentProxy } from '../../support/silentProxy.ts';

describe('the placement catalog as the process sees it (createPlacementCatalog)', () => {
  test('a second call within maxAgeMs does not read again; with maxAgeMs 0 every call reads', async () => {
    let reads = 0;
    const read = async () => {
      reads++;
      return ['postgres://b/db', 'postgres://a/db'];
    };
    const cached = createPlacementCatalog(read, { maxAgeMs: 3_600_000 });
    assert.deepEqual(await cached.list(), ['postgres://a/db', 'postgres://b/db']);
    assert.deepEqual(await cached.list(), ['postgres://a/db', 'postgres://b/db']);
    assert.equal(reads, 1);

    reads = 0;
    const fresh = createPlacementCatalog(read, { maxAgeMs: 0 });
    await fresh.list();
    await fresh.list();
    assert.equal(reads, 2);
  });

  test('callers at the same moment share one read', async () => {
    let reads = 0;
    const answer = deferred<string[]>();
    const catalog = createPlacementCatalog(() => {
      reads++;
      return answer.promise;
    }, { maxAgeMs: 0 });
    const lists = [catalog.list(), catalog.list(), catalog.list()];
    answer.resolve(['postgres://a/db']);
    assert.deepEqual(await Promise.all(lists), [['postgres://a/db'], ['postgres://a/db'], ['postgres://a/db']]);
    assert.equal(reads, 1);
  });

  test('learn adds a database at once, before the next read shows it', async () => {
    let reads = 0;
    const catalog = createPlacementCatalog(async () => {
      reads++;
      return ['postgres://a/db'];
    }, { maxAgeMs: 3_600_000 });
    assert.deepEqual(await catalog.list(), ['postgres://a/db']);
    catalog.learn('postgres://c/db');
    assert.deepEqual(await catalog.list(), ['postgres://a/db', 'postgres://c/db']);
    assert.equal(reads, 1, 'the cached list was not read again');
  });

  test('before any good read, a failed read rejects its callers; the next call reads again', async () => {
    let reads = 0;
    const catalog = createPlacementCatalog(async () => {
      reads++;
      if (reads === 1) throw new Error('catalog unreachable');
      return ['postgres://a/db'];
    }, { maxAgeMs: 3_600_000 });
    const failed = [catalog.list(), catalog.list()];
    for (const list of failed) await assert.rejects(list, /catalog unreachable/);
    assert.equal(reads, 1, 'both callers shared the failed read');
    assert.deepEqual(await catalog.list(), ['postgres://a/db']);
    assert.equal(reads, 2);
  });

  test('after a good read, a failed read answers the last known list (with what was learned since), tells onStale, and counts as a read for maxAgeMs', async () => {
    let reads = 0;
    let failing = false;
    const stale: unknown[] = [];
    const catalog = createPlacementCatalog(
      async () => {
        reads++;
        if (failing) throw new Error('catalog unreachable');
        return ['postgres://a/db'];
      },
      { maxAgeMs: 0, onStale: (error) => stale.push(error) },
    );
    assert.deepEqual(await catalog.list(), ['postgres://a/db']);
    failing = true;
    catalog.learn('postgres://c/db');
    assert.deepEqual(await catalog.list(), ['postgres://a/db', 'postgres://c/db'], 'the last known list, not an error');
    assert.deepEqual(await catalog.list({ fresh: true }), ['postgres://a/db', 'postgres://c/db'], 'a fresh read that fails answers it too');
    assert.equal(reads, 3);
    assert.equal(stale.length, 2);
    assert.match(String(stale[0]), /catalog unreachable/);

    // With a long maxAgeMs, a failed read is not tried again by the next caller.
    let longReads = 0;
    let longFailing = false;
    const cached = createPlacementCatalog(
      async () => {
        longReads++;
        if (longFailing) throw new Error('catalog unreachable');
        return ['postgres://a/db'];
      },
      { maxAgeMs: 3_600_000, onStale: () => undefined },
    );
    await cached.list();
    longFailing = true;
    assert.deepEqual(await cached.list({ fresh: true }), ['postgres://a/db']);
    assert.deepEqual(await cached.list(), ['postgres://a/db']);
    assert.equal(longReads, 2, 'the failed read counted as a read: the cached list answered the next call');
  });

  test('fresh reads the catalog now, past the cache, and never joins a read that began before it', async () => {
    const answers = [deferred<string[]>(), deferred<string[]>()];
    let reads = 0;
    const catalog = createPlacementCatalog(() => answers[reads++]!.promise, { maxAgeMs: 0 });
    const older = catalog.list();
    const fresh = catalog.list({ fresh: true });
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(reads, 2, 'the fresh call started a read of its own');
    answers[0]!.resolve([]);
    answers[1]!.resolve(['postgres://new/db']);
    assert.deepEqual(await older, []);
    assert.deepEqual(await fresh, ['postgres://new/db']);

    let cachedReads = 0;
    const cached = createPlacementCatalog(async () => (++cachedReads === 1 ? [] : ['postgres://new/db']), { maxAgeMs: 3_600_000 });
    assert.deepEqual(await cached.list(), []);
    assert.deepEqual(await cached.list({ fresh: true }), ['postgres://new/db'], 'a placement made since the cached read');
    assert.deepEqual(await cached.list(), ['postgres://new/db'], 'and the cache has it');
    assert.equal(cachedReads, 2);
  });

  test('readSince: callers that each need a read begun after their own start share one; a read begun before is not joined', async () => {
    const answers = [deferred<string[]>(), deferred<string[]>(), deferred<string[]>()];
    let reads = 0;
    const catalog = createPlacementCatalog(() => answers[reads++]!.promise, { maxAgeMs: 3_600_000 });
    const before = performance.now();
    const first = catalog.list();
    await new Promise((resolve) => setImmediate(resolve));
    const since = performance.now();
    // Two look-ups that began after the first read started: one new read serves both.
    const [a, b] = [catalog.list({ readSince: since }), catalog.list({ readSince: since })];
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(reads, 2);
    // One that began before it joins the read in flight.
    const joined = catalog.list({ readSince: before });
    answers[0]!.resolve([]);
    answers[1]!.resolve(['postgres://new/db']);
    assert.deepEqual([await first, await a, await b, await joined], [[], ['postgres://new/db'], ['postgres://new/db'], ['postgres://new/db']]);
    assert.equal(reads, 2);
    // A read done since answers at once.
    assert.deepEqual(await catalog.list({ readSince: since }), ['postgres://new/db']);
    assert.equal(reads, 2);
  });
});

/** Runs `sql` as a superuser on the database at `url`. */
async function onUrl(url: string, sql: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end();
  }
}

/** Records in the shared database at `sharedUrl` what a move of `tenant` to `url` records (moveTenant): a restaurant, in a city of its own, placed there. */
async function placeTenant(sharedUrl: string, tenant: string, url: string): Promise<void> {
  await onUrl(
    sharedUrl,
    `with c as (insert into platform.cities (name) values ($2) returning id), r as (insert into platform.restaurants (id, city_id, name) select $1, id, 'Placed' from c)
     insert into platform.tenant_placements (tenant_id, database_url) values ($1, $3)`,
    [tenant, `City ${tenant}`, url],
  );
}

/**
 * Runs `read` while a session of the database at `url` holds `menu.placement_probe` exclusively, then
 * waits (30 s at most) until no statement there waits for a lock: a read bounded in the database
 * (`lock_timeout`) gave up there by itself, freeing its connection, not only for its caller.
 */
async function whileProbeLocked(url: string, read: () => Promise<void>): Promise<void> {
  const holder = new pg.Client({ connectionString: url });
  await holder.connect();
  try {
    await holder.query('begin');
    await holder.query('lock table menu.placement_probe in access exclusive mode');
    await read();
    await eventually(
      'the statement that waited for the lock to end in the database',
      async () => Number((await onUrl(url, `select count(*) as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`)).rows[0].n),
      (n) => n === 0,
      30_000,
    );
  } finally {
    await holder.query('rollback').catch(() => undefined);
    await holder.end();
  }
}

describe('the tenant router across databases (findInEveryDatabase, onDatabase, sharedServices)', () => {
  const database = useTestDatabase();
  let dedicated: TestDatabase;
  let dbs: Databases;
  let router: TenantRouter;
  /** A restaurant the shared database's catalog places in the dedicated database. */
  const placed = randomUUID();
  // A table without row-level security, so that a transaction without a tenant reads every row of it.
  const probe = 'create table menu.placement_probe (n int not null); grant select, insert on menu.placement_probe to brigade_menu';

  before(async () => {
    // Dropped after the pools: clean-ups run last first.
    dedicated = await createTestDatabase();
    database.defer(() => dedicated.drop());
    await onUrl(database.db.url, `${probe}; insert into menu.placement_probe values (1), (2)`);
    await onUrl(dedicated.url, `${probe}; insert into menu.placement_probe values (10)`);
    await placeTenant(database.db.url, placed, dedicated.url);
    dbs = createDatabases({ url: database.db.url, poolSize: 2 });
    database.defer(() => dbs.close());
    // The catalog read as the composition root reads it: the platform service, as an admin.
    const catalog = createPlacementCatalog(() =>
      unitOfWork(dbs.poolFor('platform'), { service: 'platform', actor: { kind: 'admin', id: 'placement-catalog' }, readOnly: true }, listDedicatedDatabases),
    );
    router = createTenantRouter({ databases: dbs, catalog, sharedServices: ['delivery'] });
  });

  const admin: UnitOfWorkContext = { service: 'menu', actor: { kind: 'admin', id: 'ops' } };
  const probeRows = async (tx: Tx) => (await tx.query<{ n: number }>('select n from menu.placement_probe order by n')).rows.map((r) => r.n);
  /** The name of the database whose probe table holds `n`, else null. */
  const holding = (n: number) => async (tx: Tx) => ((await probeRows(tx)).includes(n) ? databaseName(tx) : null);
  const databaseName = async (tx: Tx) => (await tx.query<{ name: string }>('select current_database() as name')).rows[0]!.name;

  test('dedicatedDatabases lists the database of the catalog', async () => {
    assert.deepEqual(await router.dedicatedDatabases(), [dedicated.url]);
  });

  test('a database the fence sends a tenant to is listed at once, before a read of the catalog shows it', async () => {
    // A catalog read before the move: it knows no dedicated database, and is not read again for an hour.
    const learning = createTenantRouter({ databases: dbs, catalog: createPlacementCatalog(async () => [], { maxAgeMs: 3_600_000 }) });
    assert.deepEqual(await learning.dedicatedDatabases(), []);
    const staff: UnitOfWorkContext = { service: 'menu', tenantId: placed, actor: { kind: 'staff', id: randomUUID() } };
    assert.equal(await learning.unitOfWork(staff, databaseName), dedicated.name);
    assert.deepEqual(await learning.dedicatedDatabases(), [dedicated.url]);
    assert.equal(await learning.findInEveryDatabase(admin, holding(10)), dedicated.name);
  });

  test('findInEveryDatabase reads the catalog again before it answers "not found" (a move within the cached list\'s age), unless a miss is safe', async () => {
    // A list read before the move, cached for an hour; the catalog itself shows the move.
    let reads = 0;
    const cached = createPlacementCatalog(async () => (++reads === 1 ? [] : [dedicated.url]), { maxAgeMs: 3_600_000 });
    const late = createTenantRouter({ databases: dbs, catalog: cached });
    assert.deepEqual(await late.dedicatedDatabases(), []);
    assert.equal(await late.findInEveryDatabase(admin, holding(10), { unanswered: 'skip' }), null, 'a safe miss does not read the catalog again');
    assert.equal(reads, 1);
    // Before, this answered null from the cached list: an order moved a moment ago was "not found".
    assert.equal(await late.findInEveryDatabase(admin, holding(10)), dedicated.name);
    assert.equal(reads, 2);
    assert.equal(await late.findInEveryDatabase(admin, holding(99)), null, 'a row in no database is still not found');

    // A catalog that cannot be read then leaves the answer open instead of saying "not found".
    let good = true;
    const troubles: string[] = [];
    const flaky = createTenantRouter({
      databases: dbs,
      catalog: createPlacementCatalog(async () => (good ? [] : Promise.reject(new Error('catalog down'))), { maxAgeMs: 0, onStale: () => undefined }),
      onDatabaseTrouble: (e) => troubles.push(e.message),
    });
    assert.equal(await flaky.findInEveryDatabase(admin, holding(99)), null);
    good = false;
    await assert.rejects(flaky.findInEveryDatabase(admin, holding(99)), (error: { code?: string }) => error.code === 'DATABASE_UNAVAILABLE');
    assert.equal(await flaky.findInEveryDatabase(admin, holding(1)), database.db.name, 'a hit needs no catalog');
    assert.ok(troubles.some((t) => t.startsWith('the placement catalog left out')), troubles.join('\n'));
  });

  test("findInEveryDatabase: a look-up without a tenant answers from the shared database, else from a dedicated one, else null", async () => {
    assert.equal(await router.findInEveryDatabase(admin, holding(1)), database.db.name);
    assert.equal(await router.findInEveryDatabase(admin, holding(10)), dedicated.name);
    assert.equal(await router.findInEveryDatabase(admin, holding(99)), null);
    // The shared database's answer wins when both have one.
    assert.equal(await router.findInEveryDatabase(admin, databaseName), database.db.name);
  });

  test('findInEveryDatabase refuses a context with a tenant (a tenant lives in one database)', async () => {
    await assert.rejects(router.findInEveryDatabase({ ...admin, tenantId: placed }, holding(1)), (error: unknown) => error instanceof ValidationError && /without a tenant/.test(error.message));
  });

  test('findInEveryDatabase of a service whose tenant rows stay shared reads only its own database', async () => {
    const seen: string[] = [];
    const found = await router.findInEveryDatabase({ service: 'delivery', actor: { kind: 'admin', id: 'ops' } }, async (tx) => (seen.push(await databaseName(tx)), null));
    assert.deepEqual([found, seen], [null, [database.db.name]]);
  });

  test('a dedicated database that refuses connections or never answers: a hit elsewhere is answered; no hit is DATABASE_UNAVAILABLE (503), or null when a miss is safe', async () => {
    // One that refuses at once, one that accepts connections and never answers.
    const sockets = new Set<net.Socket>();
    const silent = net.createServer((socket) => void sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as net.AddressInfo).port;
    const broken = createDatabases({ url: database.db.url, poolSize: 2 });
    try {
      for (const url of ['postgres://postgres@127.0.0.1:1/refusing', `postgres://postgres@127.0.0.1:${silentPort}/silent`]) {
        const troubles: string[] = [];
        const router = createTenantRouter({ databases: broken, catalog: createPlacementCatalog(async () => [url]), readTimeoutMs: 300, onDatabaseTrouble: (e) => troubles.push(e.message) });
        assert.equal(await router.findInEveryDatabase(admin, holding(1)), database.db.name, `a hit in the shared database (${url})`);
        assert.equal(troubles.length, 0, 'a hit in the shared database asks no other database');
        await assert.rejects(router.findInEveryDatabase(admin, holding(99)), (error: { code?: string; status?: number; message?: string }) => {
          assert.equal(error.code, 'DATABASE_UNAVAILABLE');
          assert.equal(error.status, 503);
          assert.ok(error.message?.includes('127.0.0.1') === false, `no connection string in the answer: ${error.message}`);
          return true;
        });
        assert.equal(await router.findInEveryDatabase(admin, holding(99), { unanswered: 'skip' }), null, 'a look-up whose miss is safe answers null');
        assert.equal(troubles.length, 2);
        assert.ok(troubles.every((t) => /^db-[0-9a-f]{8} left out/.test(t) && !t.includes('postgres://')), troubles.join('\n'));
      }
      // A catalog that cannot be read leaves every dedicated database out, the same way.
      const unread = createTenantRouter({ databases: broken, catalog: createPlacementCatalog(() => Promise.reject(new Error('catalog down'))) });
      assert.equal(await unread.findInEveryDatabase(admin, holding(1)), database.db.name);
      await assert.rejects(unread.findInEveryDatabase(admin, holding(99)), (error: { code?: string }) => error.code === 'DATABASE_UNAVAILABLE');
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
      await broken.close().catch(() => undefined);
    }
  });

  test('a dedicated database that is connected but stuck behind a lock: its look-up statement ends in the database too, not only for the caller', async () => {
    await whileProbeLocked(dedicated.url, async () => {
      const stuck = createTenantRouter({ databases: dbs, catalog: createPlacementCatalog(async () => [dedicated.url]), readTimeoutMs: 300 });
      await assert.rejects(stuck.findInEveryDatabase(admin, holding(99)), (error: { code?: string }) => error.code === 'DATABASE_UNAVAILABLE');
    });
  });

  test("onDatabase(url, service): that service's transactions without a tenant run on url; the others are routed as usual", async () => {
    const on = router.onDatabase(dedicated.url, 'menu');
    assert.equal(await on.unitOfWork(admin, databaseName), dedicated.name);
    assert.deepEqual(await on.unitOfWork(admin, probeRows), [10]);
    await on.commitStatements(admin, [{ text: 'insert into menu.placement_probe values ($1)', values: [11] }]);
    assert.deepEqual((await onUrl(dedicated.url, 'select n from menu.placement_probe order by n')).rows.map((r: { n: number }) => r.n), [10, 11]);

    // Another service without a tenant: its own (the shared) database.
    assert.equal(await on.unitOfWork({ service: 'ordering', actor: { kind: 'system', id: 'test' } }, databaseName), database.db.name);
    const [other] = await on.commitStatements({ service: 'ordering', actor: { kind: 'system', id: 'test' } }, [{ text: 'select current_database() as name', values: [] }]);
    assert.equal(other?.rows[0]?.name, database.db.name);
    // The same service with a tenant: where the tenant lives, the shared database for one not in the catalog…
    const staff = (tenantId: string): UnitOfWorkContext => ({ service: 'menu', tenantId, actor: { kind: 'staff', id: randomUUID() } });
    assert.equal(await on.unitOfWork(staff(randomUUID()), databaseName), database.db.name);
    // …and the dedicated one for the placed tenant, which an instance for the shared database reaches too.
    assert.equal(await router.onDatabase(database.db.url, 'menu').unitOfWork(staff(placed), databaseName), dedicated.name);
  });

  test('poolOfTenant: no probe while the catalog lists no dedicated database; a probe, which follows the move, once it lists one', async () => {
    const staff = (tenantId: string): UnitOfWorkContext => ({ service: 'menu', tenantId, actor: { kind: 'staff', id: randomUUID() } });
    let urls: string[] = [];
    const counted = createTenantRouter({ databases: dbs, catalog: createPlacementCatalog(async () => urls, { maxAgeMs: 0 }) });
    const shared = dbs.poolFor('menu');
    let checkouts = 0;
    const count = () => checkouts++;
    shared.on('acquire', count);
    try {
      // The catalog (as last read) says nothing has moved: the shared pool, without a transaction.
      assert.equal(await counted.poolOfTenant(staff(placed)), shared);
      assert.equal(checkouts, 0, 'no probe transaction');
      // It lists a database: the tenant is asked for, and the fence sends it to its database.
      urls = [dedicated.url];
      assert.equal(await counted.poolOfTenant(staff(placed)), dbs.poolForUrl(dedicated.url));
      assert.equal(checkouts, 1, 'one probe, refused by the shared database');
      assert.equal(counted.placementOf(placed), dedicated.url);
    } finally {
      shared.off('acquire', count);
    }
  });

  test("sharedServices: a shared service's transaction for a tenant placed elsewhere runs on the shared database, unfenced", async () => {
    // A router of its own, which has not followed the placed tenant yet.
    const fresh = createTenantRouter({ databases: dbs, sharedServices: ['delivery'] });
    let tries = 0;
    const context = { service: 'delivery', tenantId: placed, actor: { kind: 'system', id: 'dispatch' } } as const;
    const name = await fresh.unitOfWork(context, async (tx) => {
      tries++;
      return databaseName(tx);
    });
    assert.equal(name, database.db.name);
    assert.equal(tries, 1, 'no fence refused it (BRMOV) and ran it again');
    assert.equal(fresh.placementOf(placed), '', 'the router learned no placement from it');

    // The same tenant in a service whose rows move: the fence sends it to the dedicated database.
    assert.equal(await fresh.unitOfWork({ ...context, service: 'menu' }, databaseName), dedicated.name);
    assert.equal(fresh.placementOf(placed), dedicated.url);
  });
});

describe('the tenant router: a read of several tenants that live apart (readEachTenant)', () => {
  const database = useTestDatabase();
  let dedicated: TestDatabase;
  let dbs: Databases;
  /** Tenants placed in the dedicated database, in one that refuses connections, in one that never answers; one in the shared database. */
  const apart = randomUUID();
  const refused = randomUUID();
  const unanswered = randomUUID();
  const home = randomUUID();
  const reader: UnitOfWorkContext = { service: 'menu', actor: { kind: 'public', id: 'anonymous' }, readOnly: true };
  const probe = 'create table menu.placement_probe (n int not null); grant select on menu.placement_probe to brigade_menu';
  const databaseName = async (tx: Tx) => (await tx.query<{ name: string }>('select current_database() as name')).rows[0]!.name;

  before(async () => {
    dedicated = await createTestDatabase();
    database.defer(() => dedicated.drop());
    await onUrl(dedicated.url, probe);
    // A database that accepts connections and never answers: a proxy gone silent before anyone connects.
    const silent = await silentProxy(dedicated.url);
    silent.silence();
    // What moves record in the shared database (moveTenant): there the fence sends each tenant to its URL.
    for (const [tenant, url] of [[apart, dedicated.url], [refused, 'postgres://postgres@127.0.0.1:1/refusing'], [unanswered, silent.url]] as const) await placeTenant(database.db.url, tenant, url);
    dbs = createDatabases({ url: database.db.url, poolSize: 2 });
    database.defer(() => dbs.close());
    // Closed first (clean-ups run last first): the pool's connections to it fail and let go.
    database.defer(() => silent.close());
  });

  test('each tenant read where it lives, at once; one whose database refuses or never answers is left out within readTimeoutMs, reported by label, and the others answer', async () => {
    const troubles: string[] = [];
    const router = createTenantRouter({ databases: dbs, readTimeoutMs: 500, onDatabaseTrouble: (e) => troubles.push(e.message) });
    const began = performance.now();
    const { answers, missing } = await router.readEachTenant(reader, [apart, refused, home, unanswered], async (tx, tenant) => `${tenant}@${await databaseName(tx)}`);
    const ms = performance.now() - began;
    assert.deepEqual(answers, [`${apart}@${dedicated.name}`, `${home}@${database.db.name}`], 'in the order asked, those that answered');
    assert.deepEqual(missing, [refused, unanswered]);
    assert.ok(ms < 5000, `answered after ${Math.round(ms)} ms (the silent one held for the bound only)`);
    assert.equal(troubles.length, 2, troubles.join('\n'));
    assert.ok(troubles[0]!.startsWith(`db-`) && troubles[0]!.includes(`left out of a read of several tenants (tenant ${refused})`), troubles[0]);
    assert.ok(troubles[1]!.includes(`(tenant ${unanswered})`) && troubles[1]!.includes('no answer within 500 ms'), troubles[1]);
    assert.ok(troubles.every((t) => /^db-[0-9a-f]{8} left out/.test(t) && !t.includes('postgres://')), troubles.join('\n'));
    assert.deepEqual(await router.readEachTenant(reader, [], databaseName), { answers: [], missing: [] });
  });

  test("a read stuck behind a lock in its tenant's database ends there too (lock_timeout), not only for the caller", async () => {
    await whileProbeLocked(dedicated.url, async () => {
      const router = createTenantRouter({ databases: dbs, readTimeoutMs: 300 });
      const { missing } = await router.readEachTenant(reader, [apart], (tx) => tx.query('select n from menu.placement_probe'));
      assert.deepEqual(missing, [apart]);
    });
  });

  test('a context with a tenant, or a tenant id that is not a UUID, is refused before anything runs', async () => {
    const router = createTenantRouter({ databases: dbs });
    let ran = 0;
    const count = async () => ran++;
    await assert.rejects(router.readEachTenant({ ...reader, tenantId: apart }, [apart], count), (error: unknown) => error instanceof ValidationError && error.details.field === 'tenantId');
    await assert.rejects(router.readEachTenant(reader, [apart, 'not-a-uuid'], count), (error: unknown) => error instanceof ValidationError && error.details.field === 'tenantIds');
    assert.equal(ran, 0);
  });
});
