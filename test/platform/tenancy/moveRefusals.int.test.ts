import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { createTestDatabase, useTestDatabase } from '../../support/db.ts';
import { restaurantRows } from '../../support/restaurantRows.ts';

// A move's target (decision 0008): a second move into the same database is refused at once, a placement
// made there meanwhile fails the move cleanly, and a refused move leaves the database as it was.
describe('what a move leaves in the database it was pointed at', () => {
  const database = useTestDatabase();
  let admin: pg.Pool;
  before(async () => {
    admin = database.pool(4);
  });

  const { addRestaurant } = restaurantRows(() => admin);
  const move = (tenantId: string, targetUrl: string) => moveTenant({ tenantId, sourceUrl: database.db.url, targetUrl, sets: migrationSets(), schemas: MOVING_SCHEMAS });
  const outcome = (moving: Promise<unknown>) => moving.then(() => 'moved', (error: { code?: string; message?: string }) => `${error.code ?? ''}: ${error.message ?? String(error)}`);
  /** `sql`'s rows in the database at `url`, as one client's read. */
  const read = async <T extends pg.QueryResultRow>(url: string, sql: string, values: unknown[] = []): Promise<T[]> => {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query<T>(sql, values)).rows;
    } finally {
      await client.end();
    }
  };
  /** The database's schemas that are neither the system's nor `public`. */
  const schemasOf = async (url: string) =>
    (await read<{ nspname: string }>(url, `select nspname from pg_namespace where nspname not like 'pg\\_%' and nspname not in ('information_schema', 'public') order by 1`)).map((r) => r.nspname);
  /** Sessions of the moves (`application_name`) in database `name` that wait for a lock. */
  const movesWaiting = async (name: string) =>
    (await admin.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname = $1 and application_name = 'brigade-tenant-move' and wait_event_type = 'Lock'`, [name])).rows[0]!.n;
  const until = async (what: string, done: () => Promise<boolean>) => {
    const deadline = Date.now() + 60_000;
    while (!(await done())) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await sleep(20);
    }
  };

  test('two moves of different restaurants into one database at once: the second is refused at once, and the database holds the first restaurant only', async () => {
    const first = await addRestaurant('First');
    const second = await addRestaurant('Second');
    const target = await createTestDatabase();
    // Forced interleaving: the first move's copy waits in the target (SHARE on its restaurants table)
    // once it has passed every check there.
    const blocker = new pg.Client({ connectionString: target.url });
    await blocker.connect();
    let blocked = true;
    try {
      await blocker.query('begin');
      await blocker.query('lock table platform.restaurants in share mode');
      const firstMove = outcome(move(first, target.url));
      await until('the first move to wait in the target', async () => (await movesWaiting(target.name)) === 1);
      let secondDone = false;
      const secondMove = outcome(move(second, target.url)).finally(() => (secondDone = true));
      // Refused at once; a move that went on would wait beside the first one (then one of the two failed at
      // the placement, and the other's copy stayed in the dedicated database).
      await until('the second move to be refused or to wait too', async () => secondDone || (await movesWaiting(target.name)) === 2);
      await blocker.query('commit');
      blocked = false;
      assert.equal(await firstMove, 'moved');
      assert.match(await secondMove, /^TENANT_TARGET_BUSY: Another move into that database \(--to-database .*\) is running; wait for it to finish\. Nothing moved/);
      const restaurants = await read<{ id: string }>(target.url, 'select id from platform.restaurants');
      assert.deepEqual(restaurants.map((r) => r.id), [first]);
      const tenants = await read<{ tenant_id: string }>(target.url, 'select distinct tenant_id from platform.staff');
      assert.deepEqual(tenants.map((r) => r.tenant_id), [first]);
      const stayed = await admin.query<{ n: number }>(`select count(*)::int as n from platform.staff where tenant_id = $1`, [second]);
      assert.equal(stayed.rows[0]!.n, 3, 'the second restaurant is in the shared database as before');
      assert.equal((await admin.query('select 1 from platform.tenant_placements where tenant_id = $1', [second])).rowCount, 0);
    } finally {
      if (blocked) await blocker.query('rollback').catch(() => undefined);
      await blocker.end();
      await target.drop();
    }
  });

  test('a restaurant placed in the target by something else while a move runs: the move fails as TENANT_TARGET_IN_USE, not a unique violation, and clears its copy', async () => {
    const moving = await addRestaurant('Moving');
    const other = await addRestaurant('Other');
    const target = await createTestDatabase();
    // The move waits in the shared database's delete of platform.staff, its copy committed in the target.
    const blocker = await admin.connect();
    let blocked = true;
    try {
      await blocker.query('begin');
      await blocker.query('lock table platform.staff in share mode');
      const moved = outcome(move(moving, target.url));
      await until('the move to wait in the shared database', async () => (await movesWaiting(database.db.name)) === 1);
      await admin.query(`insert into platform.tenant_placements (tenant_id, database_url) values ($1, $2)`, [other, target.url]);
      await blocker.query('commit');
      blocked = false;
      assert.match(await moved, /^TENANT_TARGET_IN_USE: Another restaurant was placed in that database while this move ran; .* Nothing moved: tenant \S+ stays in the shared database, and its copy was cleared from that database/);
      assert.deepEqual(await read(target.url, 'select id from platform.restaurants where id = $1', [moving]), []);
      assert.deepEqual(await read(target.url, 'select 1 from platform.staff where tenant_id = $1', [moving]), []);
      const stayed = await admin.query<{ n: number }>(`select count(*)::int as n from platform.staff where tenant_id = $1`, [moving]);
      assert.equal(stayed.rows[0]!.n, 3);
    } finally {
      if (blocked) await blocker.query('rollback').catch(() => undefined);
      blocker.release();
      await admin.query('delete from platform.tenant_placements where tenant_id = $1', [other]);
      await target.drop();
    }
  });

  test('a refused move leaves the database it was pointed at as it was: a restaurant moved already, an unknown one, and a database of another application', async () => {
    const moved = await addRestaurant('Moved');
    const staying = await addRestaurant('Staying');
    const dedicated = await createTestDatabase();
    const fresh = await createTestDatabase({ empty: true });
    const foreign = await createTestDatabase({ empty: true });
    try {
      assert.equal(await outcome(move(moved, dedicated.url)), 'moved');
      assert.match(await outcome(move(moved, fresh.url)), /^TENANT_ALREADY_DEDICATED: /);
      assert.match(await outcome(move(randomUUID(), fresh.url)), /^NOT_FOUND: /);
      assert.deepEqual(await schemasOf(fresh.url), [], 'nothing was migrated there');

      // Another application's tables in public: a mistyped URL, refused before anything is written there.
      await read(foreign.url, 'create table public.customers (id int primary key)');
      assert.match(
        await outcome(move(staying, foreign.url)),
        /^TENANT_TARGET_NOT_BRIGADE: That database holds a table or schema that is not Brigade's \(public\.customers\): is the URL that of another application\? Nothing was changed there/,
      );
      assert.deepEqual(await schemasOf(foreign.url), []);
      assert.equal((await admin.query('select 1 from platform.tenant_placements where tenant_id = $1', [staying])).rowCount, 0);
    } finally {
      await dedicated.drop();
      await fresh.drop();
      await foreign.drop();
    }
  });
});
