import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { createPlatform, type Platform } from '../../../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../../../src/composition/services.ts';
import { loadConfig } from '../../../../src/platform/config/index.ts';
import { formatPosition } from '../../../../src/platform/projections/index.ts';
import { DEFAULT_CATALOG_MAX_AGE_MS } from '../../../../src/platform/tenancy/index.ts';
import { createViewRoutes } from '../../../../src/services/ordering/views/index.ts';
import { useTestDatabase } from '../../../support/db.ts';
import { eventually, within } from '../../../support/eventually.ts';
import { TEST_SECRET } from '../../../support/platform.ts';
import { append, newOrder, placed } from './support.ts';

/** How long a connection request waits for a free connection of the platform's pool: far past any bound below. */
const ACQUIRE_TIMEOUT_MS = 20_000;
/** The `?after=` wait of the routes under /v1 (under /v1/patient: 600 s, which only the client's leaving ends). */
const WAIT_MS = 300;
/** What the tests give a read to answer, or to ask for a connection beyond its listener's: half the acquire timeout. */
const BOUND_MS = 10_000;

// No projector runs: a view never reaches a position appended here, so every `?after=` read waits.
// Each test starts a platform of its own: a projection listener, once open, serves every later wait
// of its process, and only a process with none shows the wait for one.
describe('a ?after= read whose wait meets a pool with every connection taken', () => {
  const database = useTestDatabase();

  /** A platform serving the order views (waits of WAIT_MS, and of 600 s under /v1/patient) with `poolSize` connections. */
  const startPlatform = async (poolSize: number): Promise<Platform> => {
    const { url } = database.db;
    const config = loadConfig(
      { DATABASE_URL: url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: String(poolSize), DATABASE_ACQUIRE_TIMEOUT_MS: String(ACQUIRE_TIMEOUT_MS) },
      { services: SERVICE_NAMES },
    );
    return createPlatform(config, { url, embedded: null }, {
      services: [
        {
          name: 'ordering',
          routes: async (app, options) => {
            await app.register(createViewRoutes({ maxWaitMs: WAIT_MS }), options);
            await app.register(createViewRoutes({ maxWaitMs: 600_000 }), { ...options, prefix: '/patient' });
          },
        },
      ],
      logger: false,
    });
  };

  /** A customer's token and the position of an order of theirs that no view has applied. */
  const customerWithNewOrder = async (platform: Platform, pool: pg.Pool) => {
    const customer = randomUUID();
    const o = newOrder(randomUUID(), customer);
    const position = await append(pool, o, [placed(o)]);
    return { token: await platform.deps.tokens.sign({ role: 'customer', subject: customer }), after: formatPosition(position) };
  };

  /**
   * Sends a read (`send`) and takes every free connection of `platformPool` as its first transaction
   * ends, so that whatever the read asks of the pool next waits: that transaction waits on a lock of
   * the checkpoints table while the test takes the other free connections and queues for the read's,
   * which it gets when the lock goes and the transaction gives it back.
   */
  const holdPoolAfterFirstRead = async <T>(pool: pg.Pool, platformPool: pg.Pool, send: () => Promise<T>) => {
    const size = platformPool.options.max - (platformPool.totalCount - platformPool.idleCount);
    const locker = await pool.connect();
    const held: pg.PoolClient[] = [];
    try {
      await locker.query('begin');
      await locker.query('lock table ordering.projection_checkpoints in access exclusive mode');
      for (let i = 1; i < size; i++) held.push(await platformPool.connect());
      const answer = send();
      answer.catch(() => undefined);
      await eventually(
        "the read's first transaction to wait on the lock",
        async () => (await pool.query(`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%projection_checkpoints%'`)).rowCount,
        (n) => n === 1,
        BOUND_MS,
      );
      assert.equal(platformPool.totalCount - platformPool.idleCount, platformPool.options.max, 'the read holds the last free connection');
      const last = platformPool.connect();
      await locker.query('rollback');
      held.push(await last);
      return { answer, release: () => held.splice(0).forEach((c) => c.release()) };
    } catch (error) {
      held.forEach((c) => c.release());
      await locker.query('rollback').catch(() => undefined);
      throw error;
    } finally {
      locker.release();
    }
  };

  /**
   * Waits until nothing of the read is left in the pool: no request for a connection and none in use
   * but the listener's, for WAIT_MS in a row (a read between two of its transactions shows neither for
   * a moment).
   */
  const settled = async (platformPool: pg.Pool) => {
    const deadline = performance.now() + BOUND_MS;
    let quietSince = performance.now();
    while (performance.now() - quietSince < WAIT_MS) {
      if (platformPool.waitingCount > 0 || platformPool.totalCount - platformPool.idleCount > 1) quietSince = performance.now();
      if (performance.now() > deadline) assert.fail(`the pool never settled: ${platformPool.waitingCount} waiting, ${platformPool.totalCount - platformPool.idleCount} in use`);
      await sleep(10);
    }
  };

  /**
   * Sends `send` with the pool held after its first read (holdPoolAfterFirstRead), gives the
   * connections back once the read asks for a second one beside the held one (`waitsFor` names it),
   * and checks the answer: 200, lagging, within BOUND_MS; then waits for the pool to settle.
   */
  const answersLaggingInTime = async (pool: pg.Pool, platformPool: pg.Pool, waitsFor: string, send: () => Promise<{ statusCode: number; json(): unknown }>) => {
    const began = performance.now();
    const { answer, release } = await holdPoolAfterFirstRead(pool, platformPool, send);
    try {
      await eventually(waitsFor, async () => platformPool.waitingCount, (n) => n >= 2, BOUND_MS);
    } finally {
      release();
    }
    const response = await within(answer, BOUND_MS, 'the answer');
    assert.equal(response.statusCode, 200);
    assert.equal((response.json() as { lagging: boolean }).lagging, true, 'the view has not applied the position');
    assert.ok(performance.now() - began < BOUND_MS, `answered after ${Math.round(performance.now() - began)} ms`);
    await settled(platformPool);
  };

  /**
   * Runs `fn` with a platform of `poolSize` connections and its pool, then closes it; a test that
   * failed while a read was on its way lets it end first (the test has given the connections back):
   * a read that outlives the platform asks `databases.poolFor` again and opens a pool nothing closes.
   */
  const withPlatform = async (poolSize: number, fn: (platform: Platform, platformPool: pg.Pool) => Promise<void>) => {
    const platform = await startPlatform(poolSize);
    const platformPool = platform.deps.databases.poolFor('ordering');
    try {
      await fn(platform, platformPool);
    } finally {
      await settled(platformPool).catch(() => undefined);
      await platform.close();
    }
  };

  test("with every connection taken, the wait does not wait for the pool to open its projection listener: the read asks for its answer's connection within its wait, not after the pool's acquire timeout (before: 20 s here)", async () => {
    const pool = database.pool(4);
    await withPlatform(2, async (platform, platformPool) => {
      const { token, after } = await customerWithNewOrder(platform, pool);
      // The listener's open waits for a connection; a wait bounded by WAIT_MS asks for another (the
      // read after it) once its time is up. The connections are given back only then: a read that
      // waits out the acquire timeout for its listener first would ask for it 20 s later.
      await answersLaggingInTime(pool, platformPool, "the read to ask for a connection beside its listener's", () =>
        platform.app.inject({ method: 'GET', url: `/v1/customers/me/orders?after=${after}`, headers: { authorization: `Bearer ${token}` } }),
      );
    });
  });

  test('with every connection taken, a client that leaves ends the wait, the open of the projection listener included (before: the open waited out the acquire timeout)', async () => {
    const pool = database.pool(4);
    await withPlatform(2, async (platform, platformPool) => {
      const base = await platform.app.listen({ host: '127.0.0.1', port: 0 });
      const { token, after } = await customerWithNewOrder(platform, pool);
      const leave = new AbortController();
      const { release } = await holdPoolAfterFirstRead(pool, platformPool, () =>
        fetch(`${base}/v1/patient/customers/me/orders?after=${after}`, { headers: { authorization: `Bearer ${token}` }, signal: leave.signal }),
      );
      try {
        // Waiting 600 s otherwise: only the client's leaving can end the wait before the test gives up.
        leave.abort();
        await eventually("the read to ask for a connection beside its listener's", async () => platformPool.waitingCount, (n) => n >= 2, BOUND_MS);
      } finally {
        release();
      }
      await settled(platformPool);
    });
  });

  test("with every connection taken, a board's wait does not wait for the pool to read the placement catalog: the read asks for its answer's connection within its wait (before: 20 s here)", async () => {
    const pool = database.pool(4);
    await withPlatform(3, async (platform, platformPool) => {
      /** The `?after=` read of a new restaurant's board, after the position of its first order. */
      const boardRead = async () => {
        const o = newOrder(randomUUID());
        const position = await append(pool, o, [placed(o)]);
        const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: o.tenantId, subject: randomUUID() });
        return () => platform.app.inject({ method: 'GET', url: `/v1/restaurants/${o.tenantId}/board?after=${formatPosition(position)}`, headers: { authorization: `Bearer ${staff}` } });
      };
      // A first wait, with connections to spare, opens the database's listener (which keeps one of the
      // three) and reads the catalog; once that read is older than the catalog's cache allows, the next
      // board wait reads it again.
      const warmUp = await (await boardRead())();
      assert.equal(warmUp.statusCode, 200);
      await sleep(DEFAULT_CATALOG_MAX_AGE_MS + 100);
      const send = await boardRead();
      // The catalog's read waits for a connection; a wait bounded by WAIT_MS asks for others (the
      // log's head, the read after it) once its time is up.
      await answersLaggingInTime(pool, platformPool, "the read to ask for a connection beside the catalog's read", send);
    });
  });
});
