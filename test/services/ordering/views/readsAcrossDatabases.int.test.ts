import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import net from 'node:net';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { createPlatform, type Platform } from '../../../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../../../src/composition/services.ts';
import { loadConfig } from '../../../../src/platform/config/index.ts';
import type { GlobalPosition } from '../../../../src/platform/events/index.ts';
import { formatPosition } from '../../../../src/platform/projections/index.ts';
import { waitForPositionOrHead } from '../../../../src/platform/projections/waitForPositionOrHead.ts';
import type { ServiceDeps } from '../../../../src/platform/runtime/index.ts';
import { createPlacementCatalog, createTenantRouter, type PlacementCatalog } from '../../../../src/platform/tenancy/index.ts';
import { readPlacementCatalog } from '../../../../src/platform/tenancy/readPlacementCatalog.ts';
import { createViewRoutes, ORDER_VIEWS } from '../../../../src/services/ordering/views/index.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../../../support/db.ts';
import { eventually, within } from '../../../support/eventually.ts';
import { TEST_SECRET } from '../../../support/platform.ts';
import { append, drain, newOrder, placed } from './support.ts';

const { board, customerOrders } = ORDER_VIEWS;
/** A position past anything any database has written. */
const NOWHERE = '9223372036854775806.1';

type Answer = { status: number; body: { position: string; lagging: boolean; orders?: Array<{ orderId: string }> } };

describe('order view reads across databases: what a read costs, a dedicated database that fails, a position written elsewhere or nowhere', () => {
  const database = useTestDatabase();
  let platform: Platform;
  /** The test's own connections to the shared database (appends, projector batches, locks). */
  let pool: pg.Pool;
  let dedicated: TestDatabase;
  let dedicatedPool: pg.Pool;
  /** Another dedicated database, where nothing of the tests' is written. */
  let other: TestDatabase;
  /** The dedicated database of the board's restaurant (one restaurant per dedicated database). */
  let boardHome: TestDatabase;
  let boardHomePool: pg.Pool;
  /** A "database" that accepts connections and never answers. */
  let hanging: net.Server;
  const hangingSockets = new Set<net.Socket>();
  /** Catalog reads per route prefix. */
  const catalogReads: Record<string, number> = { main: 0, cold: 0, empty: 0 };

  before(async () => {
    pool = database.pool(6);
    dedicated = await createTestDatabase();
    database.defer(() => dedicated.drop());
    dedicatedPool = new pg.Pool({ connectionString: dedicated.url, max: 4 });
    database.defer(() => dedicatedPool.end());
    other = await createTestDatabase();
    database.defer(() => other.drop());
    boardHome = await createTestDatabase();
    database.defer(() => boardHome.drop());
    boardHomePool = new pg.Pool({ connectionString: boardHome.url, max: 2 });
    database.defer(() => boardHomePool.end());
    hanging = net.createServer((socket) => {
      hangingSockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const hangingUrl = `postgres://postgres@127.0.0.1:${(hanging.address() as net.AddressInfo).port}/hanging`;
    // Nothing listens on port 1: connections are refused at once.
    const refusingUrl = 'postgres://postgres@127.0.0.1:1/refusing';

    const { url } = database.db;
    const config = loadConfig({ DATABASE_URL: url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '8' }, { services: SERVICE_NAMES });
    platform = await createPlatform(config, { url, embedded: null }, {
      services: [
        {
          name: 'ordering',
          // The view routes under several prefixes, each with a router and a placement catalog of its own
          // (cached for an hour: what a read learned of the catalog stays, whatever a test takes).
          routes: async (app, options) => {
            const deps = options.deps;
            const readCatalog = (name: string) => () => {
              catalogReads[name] = (catalogReads[name] ?? 0) + 1;
              return readPlacementCatalog(deps.databases, 'placement-catalog');
            };
            const withCatalog = (catalog: PlacementCatalog): ServiceDeps => {
              const router = createTenantRouter({ databases: deps.databases, catalog });
              return { ...deps, unitOfWork: router.unitOfWork, commitStatements: router.commitStatements, placements: router };
            };
            const hourly = (read: () => Promise<readonly string[]>) => createPlacementCatalog(read, { maxAgeMs: 3_600_000 });
            await app.register(createViewRoutes({ maxWaitMs: 300 }), { ...options, deps: withCatalog(hourly(readCatalog('main'))) });
            // Its catalog is read before a restaurant is placed, and then cached.
            await app.register(createViewRoutes({ maxWaitMs: 60_000 }), { ...options, prefix: '/cold', deps: withCatalog(hourly(readCatalog('cold'))) });
            await app.register(createViewRoutes({ maxWaitMs: 300 }), { ...options, prefix: '/empty', deps: withCatalog(hourly(readCatalog('empty'))) });
            // As the main routes, for a read whose answer must not depend on a busy machine answering within 300 ms.
            await app.register(createViewRoutes({ maxWaitMs: 60_000 }), { ...options, prefix: '/patient', deps: withCatalog(hourly(readCatalog('patient'))) });
            // Nothing has moved.
            await app.register(createViewRoutes({ maxWaitMs: 60_000 }), { ...options, prefix: '/cost', deps: withCatalog(hourly(async () => [])) });
            // A dedicated database refuses connections, another never answers.
            await app.register(createViewRoutes({ maxWaitMs: 300, databaseTimeoutMs: 300 }), { ...options, prefix: '/down', deps: withCatalog(hourly(async () => [refusingUrl])) });
            await app.register(createViewRoutes({ maxWaitMs: 300, databaseTimeoutMs: 300 }), { ...options, prefix: '/hang', deps: withCatalog(hourly(async () => [hangingUrl])) });
            // The dedicated database, where a test locks the view.
            await app.register(createViewRoutes({ maxWaitMs: 300, databaseTimeoutMs: 300 }), { ...options, prefix: '/locked', deps: withCatalog(hourly(async () => [dedicated.url])) });
            // The same, for a read whose transactions are counted: its wait must not run out on a busy machine.
            await app.register(createViewRoutes({ maxWaitMs: 60_000, databaseTimeoutMs: 300 }), { ...options, prefix: '/listed', deps: withCatalog(hourly(async () => [dedicated.url])) });
            // The catalog is read once, then every read of it fails.
            let staleReads = 0;
            const failingAfterOne = async () => {
              if (staleReads++ === 0) return [];
              throw new Error('catalog unreachable');
            };
            await app.register(createViewRoutes({ maxWaitMs: 300 }), { ...options, prefix: '/stale', deps: withCatalog(createPlacementCatalog(failingAfterOne, { maxAgeMs: 0, onStale: () => undefined })) });
            // The catalog has never been read.
            await app.register(createViewRoutes({ maxWaitMs: 300 }), {
              ...options,
              prefix: '/unread',
              deps: withCatalog(
                createPlacementCatalog(async () => {
                  throw new Error('catalog unreachable');
                }),
              ),
            });
          },
        },
      ],
      logger: false,
    });
    database.defer(() => platform.close());
    // Cleaned up first (clean-ups run last first): the pools' connections to it fail and let go.
    database.defer(
      () =>
        new Promise<void>((resolve) => {
          for (const socket of hangingSockets) socket.destroy();
          hanging.close(() => resolve());
        }),
    );
  });

  const token = (role: 'staff' | 'customer', subject: string, restaurantId?: string) => platform.deps.tokens.sign({ role, subject, ...(restaurantId === undefined ? {} : { restaurantId }) });
  const get = async (url: string, auth: string): Promise<Answer> => {
    const response = await platform.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${auth}` } });
    return { status: response.statusCode, body: response.json() as Answer['body'] };
  };
  /** `get`, and how many transactions (connections taken from the shared pool) its read ran there: the token's check (decisions 0090 and 0007, one for every role) aside. */
  const counted = async (url: string, auth: string) => {
    const traced = trace();
    try {
      const answer = await get(url, auth);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return { ...answer, transactions: traced.kinds.filter((kind) => kind !== 'token').length };
    } finally {
      traced.stop();
    }
  };
  /**
   * Starts tracing the transactions taken from the shared pool: each as `view` (the reader's own, as
   * the customer or staff), `head` (the log's head, as the projection), `wake` (the projector's wake-up),
   * `listen` (the process's projection listener, opened once), `token` (the token's check before the
   * route, a staff token's too: not revoked, decision 0007; a customer's not erased either, decision
   * 0090; its one statement names `platform.customer_keys` whatever the role) or `checkpoint` (a read of the
   * checkpoint alone), told apart by the first batch the connection is given; `failed` for a
   * connection that could not be had (a loaded machine: no transaction, and the caller tries again).
   * `stop` ends it.
   */
  const trace = () => {
    const shared = platform.databases.poolFor('ordering');
    const kinds: string[] = [];
    // A transaction's place is taken when it asks for its connection, not when the pool hands one
    // over: a wake-up sent before a pause may get its connection after the read that follows the
    // pause (a new connection takes longer to open than an idle one to hand over, most under load).
    const connect = shared.connect;
    shared.connect = ((...args: unknown[]) => {
      const index = kinds.push('?') - 1;
      const callback = args[0] as ((error: Error | undefined, client: pg.PoolClient, release: () => void) => void) | undefined;
      if (typeof callback === 'function') {
        return (connect as (cb: typeof callback) => void).call(shared, (error, client, release) => {
          if (error === undefined || error === null) hook(client, index);
          else kinds[index] = 'failed';
          callback(error, client, release);
        });
      }
      return (connect as () => Promise<pg.PoolClient>).call(shared).then(
        (client) => (hook(client, index), client),
        (error: unknown) => {
          kinds[index] = 'failed';
          throw error;
        },
      );
    }) as typeof shared.connect;
    const hook = (client: pg.PoolClient, index: number) => {
      const query = client.query;
      client.query = ((...args: Parameters<typeof query>) => {
        client.query = query;
        const first = args[0] as unknown;
        const statements = typeof first === 'string' ? [{ text: first, values: [] }] : ((first as { statements?: Array<{ text: string; values?: unknown[] }> }).statements ?? []);
        const seen = JSON.stringify(statements);
        kinds[index] = seen.includes('platform.customer_keys') ? 'token' : /listen/i.test(seen) ? 'listen' : seen.includes('pg_notify') ? 'wake' : /"(customer|staff)"/.test(seen) ? 'view' : seen.includes('"projection.') ? 'head' : 'checkpoint';
        return (query as (...a: unknown[]) => unknown).apply(client, args);
      }) as typeof query;
    };
    return {
      kinds,
      stop: () => {
        shared.connect = connect;
      },
    };
  };
  /** Records in the shared database's catalog that `rid` lives in the dedicated database (or `into`), as a move does. */
  const placeInDedicated = async (rid: string, into: TestDatabase = dedicated) => {
    await pool.query(
      `with c as (insert into platform.cities (name) values ($2) returning id), r as (insert into platform.restaurants (id, city_id, name) select $1, id, 'Placed' from c)
       insert into platform.tenant_placements (tenant_id, database_url) values ($1, $3)`,
      [rid, `City ${rid}`, into.url],
    );
  };
  /** An order of `customer` at `rid`, placed in the database of `into`: its ids and position. */
  const order = async (into: pg.Pool, rid: string, customer: string) => {
    const o = newOrder(rid, customer);
    return { o, at: await append(into, o, [placed(o)]) };
  };
  /** Runs every order view's batches in the database of `into` up to `at`. */
  const project = async (into: pg.Pool, at: GlobalPosition) => {
    for (const p of ORDER_VIEWS.all) await drain(into, p, at);
  };

  test('with nothing moved, a read takes one transaction: the board and the lists, with ?after= a position the view has applied or without', async () => {
    const rid = randomUUID();
    const customer = randomUUID();
    const { at } = await order(pool, rid, customer);
    await project(pool, at);
    const staff = await token('staff', randomUUID(), rid);
    const asCustomer = await token('customer', customer);
    const after = formatPosition(at);

    for (const url of [`/v1/cost/restaurants/${rid}/board`, `/v1/cost/restaurants/${rid}/board?after=${after}`, '/v1/cost/customers/me/orders', `/v1/cost/customers/me/orders?after=${after}`]) {
      const read = await counted(url, url.includes('board') ? staff : asCustomer);
      assert.equal(read.body.lagging, false, url);
      assert.equal(read.body.orders?.length, 1, url);
      assert.equal(read.transactions, 1, `${url}: one transaction (no probe of the restaurant's database, no read of the log's head, no checkpoint read of its own)`);
    }
  });

  test('with nothing moved, a read ?after= a position the view has not applied costs what it did before restaurants could move: the read that found it behind, then at once the wake-up of the projector, no read of the log head', async () => {
    for (const which of ['list', 'board'] as const) {
      const rid = randomUUID();
      const customer = randomUUID();
      // Written, not projected: the view is behind it.
      const { o, at } = await order(pool, rid, customer);
      const url = which === 'list' ? `/v1/cost/customers/me/orders?after=${formatPosition(at)}` : `/v1/cost/restaurants/${rid}/board?after=${formatPosition(at)}`;
      const auth = which === 'list' ? await token('customer', customer) : await token('staff', randomUUID(), rid);
      const traced = trace();
      try {
        const reading = get(url, auth);
        await eventually(`the ${which} read to wake the projector`, async () => traced.kinds.includes('wake'), (woken) => woken, 20_000);
        // The test is the projector: it runs the batch the read waits for.
        await drain(pool, which === 'list' ? customerOrders : board, at);
        const read = await within(reading, 20_000, `the ${which} read to answer once the view has the order`);
        assert.equal(read.status, 200, JSON.stringify(read.body));
        assert.deepEqual(read.body.orders?.map((x) => x.orderId), [o.orderId], which);
        assert.equal(read.body.lagging, false, which);
      } finally {
        traced.stop();
      }
      const transactions = traced.kinds.filter((kind) => kind !== 'listen' && kind !== 'failed' && kind !== 'token');
      assert.deepEqual(transactions.slice(0, 2), ['view', 'wake'], `${which}: the projector is woken after one transaction, the read that found the view behind: ${transactions.join(', ')}`);
      assert.equal(transactions.at(-1), 'view', `${which}: the last one reads the rows`);
      assert.deepEqual(
        transactions.filter((kind) => kind !== 'checkpoint' && kind !== 'wake'),
        ['view', 'view'],
        `${which}: besides the wait's own reads of the checkpoint and wake-ups, two transactions, as before (a checkpoint read, then the rows): no read of the log head, no second read of the checkpoint before the wake-up: ${transactions.join(', ')}`,
      );
      await project(pool, at);
    }
  });

  test("with a dedicated database listed, a read ?after= a position the shared view has not applied reads the shared log's head once, then wakes the projector: the checkpoint it first read starts the wait", async () => {
    const customer = randomUUID();
    // Written, not projected: the shared view is behind it; the test projects it once the read woke the projector.
    const { o, at } = await order(pool, randomUUID(), customer);
    const traced = trace();
    try {
      const reading = get(`/v1/listed/customers/me/orders?after=${formatPosition(at)}`, await token('customer', customer));
      await eventually('the read to wake the projector', async () => traced.kinds.includes('wake'), (woken) => woken, 20_000);
      await drain(pool, customerOrders, at);
      const read = await within(reading, 20_000, 'the read to answer');
      assert.equal(read.status, 200, JSON.stringify(read.body));
      assert.deepEqual(read.body.orders?.map((x) => x.orderId), [o.orderId]);
    } finally {
      traced.stop();
    }
    const transactions = traced.kinds.filter((kind) => kind !== 'listen' && kind !== 'failed' && kind !== 'token');
    assert.deepEqual(transactions.slice(0, 3), ['view', 'head', 'wake'], `no second read of the checkpoint between the head and the wake-up: ${transactions.join(', ')}`);
    await project(pool, at);
  });

  test('a dedicated database that refuses connections or never answers is left out: the list answers with the other rows and lagging: true', async () => {
    const customer = randomUUID();
    const { o, at } = await order(pool, randomUUID(), customer);
    await project(pool, at);
    const asCustomer = await token('customer', customer);
    for (const prefix of ['/v1/down', '/v1/hang']) {
      for (const query of ['', `?after=${formatPosition(at)}`]) {
        const url = `${prefix}/customers/me/orders${query}`;
        const read = await within(get(url, asCustomer), 20_000, `${url} to answer`);
        assert.equal(read.status, 200, `${url}: ${JSON.stringify(read.body)}`);
        assert.deepEqual(read.body.orders?.map((x) => x.orderId), [o.orderId], `${url}: the shared database's rows`);
        assert.equal(read.body.lagging, true, `${url}: says a database is missing`);
      }
    }
    // A catalog never read: the shared database only, and lagging.
    const unread = await get('/v1/unread/customers/me/orders', asCustomer);
    assert.equal(unread.status, 200, JSON.stringify(unread.body));
    assert.deepEqual(unread.body.orders?.map((x) => x.orderId), [o.orderId]);
    assert.equal(unread.body.lagging, true);
  });

  test('a placement catalog that answers its last known list because its read failed: the list says lagging: true', async () => {
    const customer = randomUUID();
    const { at } = await order(pool, randomUUID(), customer);
    await project(pool, at);
    const asCustomer = await token('customer', customer);
    const good = await get('/v1/stale/customers/me/orders', asCustomer);
    assert.equal(good.status, 200, JSON.stringify(good.body));
    assert.equal(good.body.lagging, false, 'the catalog was read');
    const stale = await get('/v1/stale/customers/me/orders', asCustomer);
    assert.equal(stale.status, 200, JSON.stringify(stale.body));
    assert.equal(stale.body.orders?.length, 1);
    assert.equal(stale.body.lagging, true, 'its read failed: the list may miss a database placed since');
  });

  test("a dedicated database connected but stuck behind a lock on the view: the list answers without it (lagging: true), and the read's statements end in that database too", async () => {
    const customer = randomUUID();
    const { o, at } = await order(pool, randomUUID(), customer);
    await project(pool, at);
    const asCustomer = await token('customer', customer);
    const holder = new pg.Client({ connectionString: dedicated.url });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('lock table ordering.customer_orders_view in access exclusive mode');
      for (const query of ['', `?after=${formatPosition(at)}`]) {
        const url = `/v1/locked/customers/me/orders${query}`;
        const read = await within(get(url, asCustomer), 20_000, `${url} to answer`);
        assert.equal(read.status, 200, `${url}: ${JSON.stringify(read.body)}`);
        assert.deepEqual(read.body.orders?.map((x) => x.orderId), [o.orderId], `${url}: the shared database's rows`);
        assert.equal(read.body.lagging, true, url);
      }
      // The statements that waited for the lock gave up in the database (statement and lock timeouts),
      // while the lock is still held: their connections are back in the pool.
      await eventually(
        "the platform's statements waiting for the lock to end",
        async () =>
          (
            await dedicatedPool.query<{ n: number }>(
              `select count(*)::int as n from pg_stat_activity where datname = current_database() and application_name = 'brigade' and state = 'active' and wait_event_type = 'Lock'`,
            )
          ).rows[0]!.n,
        (n) => n === 0,
        15_000,
      );
    } finally {
      await holder.query('rollback').catch(() => undefined);
      await holder.end();
    }
  });

  test('?after= a position written in a database the cached catalog does not list yet: the catalog is read again and the read holds it', async () => {
    const customer = randomUUID();
    const asCustomer = await token('customer', customer);
    // The /empty routes read the catalog now, while it lists no dedicated database, and keep that for an hour.
    assert.equal((await get('/v1/empty/customers/me/orders', asCustomer)).status, 200);
    assert.equal(catalogReads.empty, 1);
    // The /cold routes read it once another database is placed, and keep what they read for an hour.
    await placeInDedicated(randomUUID(), other);
    const readsBefore = catalogReads.cold!;
    assert.equal((await get('/v1/cold/customers/me/orders', asCustomer)).status, 200);
    assert.equal(catalogReads.cold, readsBefore + 1);
    // Every shared view has applied its whole log: there, the read waits for nothing.
    const { at: sharedHead } = await order(pool, randomUUID(), randomUUID());
    await project(pool, sharedHead);

    // Then a restaurant is placed in the dedicated database and the customer orders there (through
    // another process, say): its position lies past the shared database's head.
    const rid = randomUUID();
    await placeInDedicated(rid);
    const { o, at } = await order(dedicatedPool, rid, customer);
    const reading = get(`/v1/cold/customers/me/orders?after=${formatPosition(at)}`, asCustomer);
    await drain(dedicatedPool, customerOrders, at);
    const read = await reading;
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.deepEqual(read.body.orders?.map((x) => x.orderId), [o.orderId], 'the order written in the database the cache did not list');
    assert.equal(read.body.lagging, false);
    assert.equal(catalogReads.cold, readsBefore + 2, 'the catalog was read again, past its cache');

    // Where the cache lists no dedicated database, the shared database waits for the position itself
    // (the cost of a read with nothing moved): it waits the whole while, then the catalog is read
    // again and the new database's rows are read as they are; the answer says it may lag.
    const empty = await within(get(`/v1/empty/customers/me/orders?after=${formatPosition(at)}`, asCustomer), 20_000, 'the /empty read to answer');
    assert.equal(empty.status, 200, JSON.stringify(empty.body));
    assert.deepEqual(empty.body.orders?.map((x) => x.orderId), [o.orderId]);
    assert.equal(empty.body.lagging, true);
    assert.equal(catalogReads.empty, 2, 'the catalog was read again, past its cache');
  });

  test('?after= a position written nowhere answers lagging: true, once each view has applied its own head', async () => {
    const customer = randomUUID();
    const { at } = await order(pool, randomUUID(), customer);
    await project(pool, at);
    const read = await get(`/v1/customers/me/orders?after=${NOWHERE}`, await token('customer', customer));
    assert.equal(read.status, 200);
    assert.equal(read.body.orders?.length, 1);
    assert.equal(read.body.lagging, true, 'decision 0032: a position the views never reach');
  });

  test("the board of a restaurant in a dedicated database, ?after= a position past that database's head but in the shared one's log: holds what its database has, lagging: false; past every head: lagging: true", async () => {
    const rid = randomUUID();
    await placeInDedicated(rid, boardHome);
    const { o, at: inDedicated } = await order(boardHomePool, rid, randomUUID());
    await project(boardHomePool, inDedicated);
    // A later position of the shared database (e.g. the lists' position, or the restaurant's own from
    // before its move to a database of another cluster, whose numbers run lower).
    const { at: inShared } = await order(pool, randomUUID(), randomUUID());
    const staff = await token('staff', randomUUID(), rid);

    // Under /patient: with the main routes' 300 ms, a loaded machine let the bound pass before the
    // dedicated database's head was read, and the answer said lagging: true (two full runs failed so).
    const read = await get(`/v1/patient/restaurants/${rid}/board?after=${formatPosition(inShared)}`, staff);
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.deepEqual(read.body.orders?.map((x) => x.orderId), [o.orderId], "the board, read in the restaurant's database");
    assert.equal(read.body.position, formatPosition(inDedicated), "its position is its database's checkpoint");
    assert.equal(read.body.lagging, false, 'it waited for its own head, not for a position its database never reaches');

    const nowhere = await get(`/v1/patient/restaurants/${rid}/board?after=${NOWHERE}`, staff);
    assert.equal(nowhere.body.lagging, true);
  });

  test("the head's read counts in the wait's bound, and the request's abort stops it: a log no one can read (a lock) holds neither", async () => {
    const customer = randomUUID();
    const rid = randomUUID();
    // Written, not projected: the view is behind it, so the read needs the log's head.
    const { at } = await order(pool, rid, customer);
    const holder = await pool.connect();
    try {
      await holder.query('begin');
      await holder.query('lock table ordering.events in access exclusive mode');
      const list = await within(get(`/v1/customers/me/orders?after=${formatPosition(at)}`, await token('customer', customer)), 20_000, 'the list to answer while the log is locked');
      assert.equal(list.status, 200);
      assert.equal(list.body.lagging, true);
      const boardRead = await within(get(`/v1/restaurants/${rid}/board?after=${formatPosition(at)}`, await token('staff', randomUUID(), rid)), 20_000, 'the board to answer while the log is locked');
      assert.equal(boardRead.status, 200);
      assert.equal(boardRead.body.lagging, true);

      const abort = new AbortController();
      const waiting = waitForPositionOrHead(platform.databases.poolFor('ordering'), board, at, { timeoutMs: 600_000, signal: abort.signal });
      setTimeout(() => abort.abort(), 50);
      const waited = await within(waiting, 20_000, 'the aborted wait to end while the log is locked');
      assert.equal(waited.caughtUp, false);
      assert.equal(waited.reachesAfter, undefined, 'the head was never read');
    } finally {
      await holder.query('rollback').catch(() => undefined);
      holder.release();
    }
  });
});
