import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { runMain, spawnCli } from '../support/cli.ts';
import { createTestDatabase, useTestDatabase } from '../support/db.ts';
import { restaurantRows } from '../support/restaurantRows.ts';

// `brigade tenants move` stopped by a signal (decision 0008).
describe('brigade tenants move interrupted', () => {
  const shared = useTestDatabase();
  let admin: pg.Pool;
  const env = () => ({ DATABASE_URL: shared.db.url, BRIGADE_SECRET: 'x'.repeat(40) });

  before(async () => {
    admin = shared.pool(4);
  });

  const { addRestaurant, staffRows, placed, fenceFree } = restaurantRows(() => admin);
  /** The move's sessions in the shared database: [all of them, those waiting for a lock]. */
  const moveSessions = async () => {
    const { rows } = await admin.query<{ n: number; waiting: number }>(
      `select count(*)::int as n, count(*) filter (where wait_event_type = 'Lock')::int as waiting from pg_stat_activity where datname = current_database() and application_name = 'brigade-tenant-move'`,
    );
    return [rows[0]!.n, rows[0]!.waiting];
  };
  /** Polls `done` until it holds, for at most two minutes (a process start alone can take a minute on a busy machine). */
  const until = async (what: string, done: () => Promise<boolean>) => {
    const deadline = Date.now() + 120_000;
    while (!(await done())) {
      assert.ok(Date.now() < deadline, `timed out waiting for ${what}`);
      await sleep(50);
    }
  };

  /**
   * `brigade tenants move` as a child process, stopped by `signal` once its shared database's delete of
   * platform.staff waits (a blocker holds SHARE on the table: the move holds the tenant's fence then).
   * Returns the run and a function that lets the blocker go.
   */
  const moveStoppedBy = async (rid: string, targetUrl: string, signal: NodeJS.Signals) => {
    const blocker = await admin.connect();
    await blocker.query('begin');
    await blocker.query('lock table platform.staff in share mode');
    const run = spawnCli(['tenants', 'move', rid, '--to-database', targetUrl], env());
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await blocker.query('rollback').catch(() => undefined);
      blocker.release();
    };
    try {
      await until('the move to wait for the blocker, fenced', async () => (await moveSessions())[1] === 1);
    } catch (error) {
      run.child.kill('SIGKILL');
      await release();
      throw new Error(`${String(error)}\n${run.output()}`);
    }
    run.child.kill(signal);
    return { exited: run.exited, release };
  };

  test('Ctrl+C during a fenced step: the statement is cancelled, the fence lifts at once, nothing moved, and the same command then moves the restaurant', async () => {
    const rid = await addRestaurant('Interrupted');
    const target = await createTestDatabase();
    const run = await moveStoppedBy(rid, target.url, 'SIGINT');
    try {
      const result = await run.exited;
      assert.equal(result.code, 130, result.stdout + result.stderr);
      assert.match(result.stderr, /brigade tenants move: SIGINT: stopping the move \(Ctrl\+C again to exit at once\) …/);
      assert.match(
        result.stderr,
        new RegExp(`brigade tenants move: The move of tenant ${rid} was interrupted by SIGINT while deleting the rows of platform\\.staff from the shared database and checking them against the copy: nothing moved\\. .*Run the same command again to move it`),
      );
      // While the blocker still holds its lock: the move's session is gone and the tenant's writes are free.
      await until('the move to leave the shared database', async () => (await moveSessions())[0] === 0);
      assert.equal(await fenceFree(rid), true, 'nobody holds the fence');
      assert.equal(await staffRows(rid), 3);
      assert.equal(await placed(rid), 0);
      await run.release();
      // The same command again, in this process: it listens for SIGINT and SIGTERM while it moves, and
      // those listeners go with it.
      const listening = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
      const again = await runMain(['tenants', 'move', rid, '--to-database', target.url], env()).finally(() => {
        for (const name of ['SIGINT', 'SIGTERM'] as const) for (const l of process.listeners(name)) if (!listening[name].includes(l)) process.off(name, l);
      });
      assert.equal(again.code, 0, again.stdout + again.stderr);
      assert.equal(await placed(rid), 1);
      assert.equal(await staffRows(rid), 0);
    } finally {
      await run.release();
      await target.drop();
    }
  });

  test("a move killed outright (SIGKILL) during a fenced step: its session notices the client is gone and ends, lifting the fence", async () => {
    const rid = await addRestaurant('Killed');
    const target = await createTestDatabase();
    const run = await moveStoppedBy(rid, target.url, 'SIGKILL');
    try {
      const result = await run.exited;
      assert.equal(result.signal, 'SIGKILL');
      // client_connection_check_interval (1 s): the backend stops waiting behind the blocker on its own.
      await until('the killed move to leave the shared database', async () => (await moveSessions())[0] === 0);
      assert.equal(await fenceFree(rid), true);
      assert.equal(await staffRows(rid), 3);
      assert.equal(await placed(rid), 0);
    } finally {
      await run.release();
      await target.drop();
    }
  });
});
