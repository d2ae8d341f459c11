import { randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import pg from 'pg';
import { testEnv } from './env.ts';

/** A database of one's own for a test file. */
export interface TestDatabase {
  readonly name: string;
  readonly url: string;
  /**
   * Drops the database. Without FORCE on purpose: a pool or client the test left open makes the
   * drop fail, so a leaked connection fails the test file instead of going unnoticed.
   */
  drop(): Promise<void>;
}

/** URL of database `name` on the test server. */
export function urlFor(name: string): string {
  const url = new URL(testEnv.adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs one statement on the test server's maintenance database. */
export async function adminQuery(text: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: testEnv.adminUrl });
  await client.connect();
  try {
    return await client.query(text, values);
  } finally {
    await client.end();
  }
}

/**
 * A new database for this test file: cloned from the migrated template (fast, fully migrated),
 * or empty (`{ empty: true }`) for tests of the migrator itself.
 */
export async function createTestDatabase(options: { empty?: boolean } = {}): Promise<TestDatabase> {
  const name = `brigade_t_${testEnv.runId}_${randomBytes(4).toString('hex')}`;
  const template = options.empty === true ? 'template0' : testEnv.template;
  await adminQuery(`create database "${name}" template "${template}"`);
  return {
    name,
    url: urlFor(name),
    drop: async () => {
      try {
        await adminQuery(`drop database if exists "${name}"`);
      } catch (error) {
        const sessions = await adminQuery(`select application_name, state, query from pg_stat_activity where datname = $1`, [name]);
        throw new Error(`the test left ${sessions.rowCount} connection(s) open to its database: ${JSON.stringify(sessions.rows)}`, { cause: error });
      }
    },
  };
}

/** What {@link useTestDatabase} gives a test file or suite. */
export interface TestDatabaseFixture {
  /** The database; there once {@link TestDatabaseFixture.ready} has resolved. */
  readonly db: TestDatabase;
  /**
   * Resolves when the database exists. Inside a `describe`, hooks registered after the fixture and
   * the tests run after its own `before`, which waits for this; at a file's top level node:test (20)
   * starts every `before` hook at once (nodejs/node#52003), so a top-level `before` that uses the database awaits this first.
   */
  readonly ready: Promise<TestDatabase>;
  /** A new pool on the database (`max` connections, or pg's options), ended after the tests. */
  pool(options: number | Omit<pg.PoolConfig, 'connectionString'>): pg.Pool;
  /**
   * Registers a clean-up that runs after the tests, before the pools end and the database drops; the
   * last one registered runs first. Teardown that still uses a pool (a transport, a relay, a child
   * process holding connections) goes here: node:test runs `after` hooks in the order they were
   * registered, so an `after` registered below the fixture would run once its pools had ended.
   */
  defer(cleanup: () => unknown): void;
}

/**
 * A database of the test file's (or, called inside `describe`, the suite's) own, cloned from the
 * migrated template (or empty: `{ empty: true }`), made from the moment of the call. The `before`
 * hook this call registers waits for it; its `after` hook runs the deferred clean-ups (last first),
 * ends the pools, then drops the database. Every step runs even when one before it failed, and the
 * failures are thrown together. The drop has no FORCE (see {@link TestDatabase.drop}): a connection
 * left open fails the file.
 *
 * @example
 * const database = useTestDatabase();
 * let pool: pg.Pool;
 * before(async () => {
 *   await database.ready; // needed at a file's top level only
 *   pool = database.pool(4);
 *   transport = createPgTransport({ pool });
 *   database.defer(() => transport.close());
 * });
 */
export function useTestDatabase(options: { empty?: boolean } = {}): TestDatabaseFixture {
  let db: TestDatabase | undefined;
  const pools: pg.Pool[] = [];
  const cleanups: Array<() => unknown> = [];
  const ready = createTestDatabase(options).then((made) => (db = made));
  // Its failure is thrown by the before hook (and by whoever awaits `ready`), not reported as unhandled.
  ready.catch(() => undefined);
  before(async () => {
    await ready;
  });
  after(async () => {
    const failures: unknown[] = [];
    const attempt = async (step: () => unknown) => {
      try {
        await step();
      } catch (error) {
        failures.push(error);
      }
    };
    for (const cleanup of cleanups.reverse()) await attempt(cleanup);
    for (const pool of pools) await attempt(() => pool.end());
    if (db !== undefined) await attempt(() => db!.drop());
    if (failures.length === 1) throw failures[0];
    if (failures.length > 1) throw new AggregateError(failures, `${failures.length} test database clean-ups failed`);
  });
  const made = (): TestDatabase => {
    if (db === undefined) throw new Error('the test database is not made yet: await `ready` first (needed in a top-level before hook)');
    return db;
  };
  return {
    get db() {
      return made();
    },
    ready,
    pool(poolOptions) {
      const pool = new pg.Pool({ ...(typeof poolOptions === 'number' ? { max: poolOptions } : poolOptions), connectionString: made().url });
      pools.push(pool);
      return pool;
    },
    defer(cleanup) {
      cleanups.push(cleanup);
    },
  };
}

/** A login role of the test server that owns databases, made by {@link createOwnerRole}. */
export interface OwnerRole {
  readonly name: string;
  /** An empty database owned by the role (its migrations are the caller's), with a URL that logs in as the role. */
  createDatabase(): Promise<TestDatabase>;
  /** Drops the role (its databases first). */
  drop(): Promise<void>;
}

/**
 * A database owner that is not a superuser, as on a managed PostgreSQL: with `bypassRls`, it has
 * BYPASSRLS (what a tenant move needs, decision 0008). The suite migrates as a superuser, which hides
 * what such an owner cannot do. The service roles are the cluster's and exist already (the template
 * made them); an owner that made them itself would hold them WITH ADMIN OPTION, which PostgreSQL 16 and
 * later require of the role that grants them (the first migration grants each to its migrator), so
 * they are granted so.
 */
export async function createOwnerRole(serviceRoles: readonly string[], options: { bypassRls: boolean }): Promise<OwnerRole> {
  const suffix = randomBytes(4).toString('hex');
  // Not `brigade_…`: roles are the cluster's, and findTenancyViolations checks every brigade_ role for
  // BYPASSRLS, so a parallel test file's catalog check would report this owner while it exists.
  const name = `test_owner_${suffix}`;
  const password = randomBytes(12).toString('hex');
  await adminQuery(`create role "${name}" login password '${password}' createrole nosuperuser ${options.bypassRls ? 'bypassrls' : 'nobypassrls'}`);
  await adminQuery(`grant ${serviceRoles.map((r) => `"${r}"`).join(', ')} to "${name}" with admin option`);
  const made: TestDatabase[] = [];
  return {
    name,
    async createDatabase() {
      const db = `brigade_owner_t_${suffix}_${made.length}`;
      await adminQuery(`create database "${db}" owner "${name}" template template0`);
      const url = new URL(urlFor(db));
      url.username = name;
      url.password = password;
      const database: TestDatabase = {
        name: db,
        url: url.toString(),
        drop: async () => {
          await adminQuery(`drop database if exists "${db}"`);
        },
      };
      made.push(database);
      return database;
    },
    async drop() {
      for (const db of made) await db.drop();
      await adminQuery(`drop role if exists "${name}"`);
    },
  };
}
