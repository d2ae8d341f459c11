import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { MIGRATION_LOCK_KEY } from '../../src/platform/migrations/index.ts';
import { spawnCli } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

// `brigade migrate`, `brigade start` and `brigade demo` stopped by Ctrl+C while a migration waits for a table lock.
describe('brigade migrate, start and demo interrupted', () => {
  const database = useTestDatabase();
  let admin: pg.Pool;
  // An idempotent file (add column if not exists) that waits for ACCESS EXCLUSIVE on its table. The
  // files of its set numbered after it are made pending too (a file below an applied one is refused),
  // and it runs first.
  const PENDING = { set: 'platform', name: '0021_claim_check_refs_released.sql', table: 'brigade_bus.claim_check_refs' };

  before(async () => {
    admin = database.pool(4);
  });

  /** The migrator's sessions: [all of them, those waiting for a lock]. */
  const migrators = async () => {
    const { rows } = await admin.query<{ n: number; waiting: number }>(
      `select count(*)::int as n, count(*) filter (where wait_event_type = 'Lock')::int as waiting from pg_stat_activity where datname = current_database() and application_name = 'brigade-migrate'`,
    );
    return [rows[0]!.n, rows[0]!.waiting] as const;
  };
  /** Whether nobody holds the migration lock (tried, and let go at once). */
  const migrationLockFree = async () => {
    const client = await admin.connect();
    try {
      const { rows } = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1::bigint) as ok', [MIGRATION_LOCK_KEY]);
      if (rows[0]!.ok) await client.query('select pg_advisory_unlock($1::bigint)', [MIGRATION_LOCK_KEY]);
      return rows[0]!.ok;
    } finally {
      client.release();
    }
  };
  /** Polls `done` for at most two minutes (a process start alone can take a minute on a busy machine); false if it never held. */
  const eventually = async (done: () => Promise<boolean>) => {
    const deadline = Date.now() + 120_000;
    while (!(await done())) {
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
    return true;
  };

  /**
   * `brigade <args>` as a child process with {@link PENDING} pending, stopped by SIGINT once its
   * migration waits for the table a blocker holds ACCESS EXCLUSIVE. Returns the run and the blocker's release.
   */
  const stoppedWhileMigrating = async (args: readonly string[]) => {
    await admin.query('delete from brigade_meta.schema_migrations where set_name = $1 and name >= $2', [PENDING.set, PENDING.name]);
    const blocker = await admin.connect();
    await blocker.query('begin');
    await blocker.query(`lock table ${PENDING.table} in access exclusive mode`);
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await blocker.query('rollback').catch(() => undefined);
      blocker.release();
    };
    const run = spawnCli(args, { DATABASE_URL: database.db.url, PORT: '0', BRIGADE_SECRET: 'x'.repeat(40) });
    if (!(await eventually(async () => (await migrators())[1] === 1))) {
      run.child.kill('SIGKILL');
      await release();
      assert.fail(`the migration never waited for the blocker:\n${run.output()}`);
    }
    run.child.kill('SIGINT');
    return { exited: run.exited, release, gone: run.gone };
  };

  test('Ctrl+C on brigade migrate: the waiting statement is cancelled, no backend stays and the lock is free', async () => {
    const run = await stoppedWhileMigrating(['migrate']);
    try {
      // While the blocker still holds its lock: the migrator's session is gone and so is its lock. (Before,
      // the process died at once and its backend waited on, holding the migration lock, for ever.)
      assert.equal(await eventually(async () => (await migrators())[0] === 0), true, 'no brigade-migrate backend remains');
      assert.equal(await migrationLockFree(), true, 'nobody holds the migration lock');
      const result = await run.exited;
      assert.equal(result.code, 130, result.stdout + result.stderr);
      assert.match(result.stderr, /brigade migrate: SIGINT: stopping the migration \(Ctrl\+C again to exit at once\) …/);
      // What stays of the file it was on: here nothing (before, a line that said so of a no-transaction file's finished statements too).
      assert.match(
        result.stderr,
        /brigade migrate: Migrating was interrupted by SIGINT while applying platform\/0021_claim_check_refs_released\.sql: platform\/0021_claim_check_refs_released\.sql was rolled back \(nothing of it is applied\), and the migration lock is released\. Nothing to fix: run brigade migrate again\./,
      );
      assert.match(result.stdout, /\[1\/\d+\] applying platform\/0021_claim_check_refs_released\.sql …/);
      const tracked = await admin.query('select 1 from brigade_meta.schema_migrations where set_name = $1 and name = $2', [PENDING.set, PENDING.name]);
      assert.equal(tracked.rowCount, 0, 'the interrupted file is not recorded');
    } finally {
      await run.release();
    }
  });

  test('Ctrl+C on brigade demo while a migration waits: the waiting statement is cancelled, no backend stays and the lock is free', async () => {
    const run = await stoppedWhileMigrating(['demo', '--orders', '1']);
    try {
      // Before, demo gave its migrations no signal: it exited at once and left its backend waiting, holding the migration lock.
      assert.equal(await eventually(async () => (await migrators())[0] === 0), true, 'no brigade-migrate backend remains');
      assert.equal(await migrationLockFree(), true, 'nobody holds the migration lock');
      const result = await run.exited;
      assert.equal(result.code, 130, result.stdout + result.stderr);
      assert.match(result.stderr, /brigade demo: Migrating was interrupted by SIGINT while .* Nothing to fix: run brigade demo again/);
      assert.doesNotMatch(result.stdout, /Brigade is up/);
      const tracked = await admin.query('select 1 from brigade_meta.schema_migrations where set_name = $1 and name = $2', [PENDING.set, PENDING.name]);
      assert.equal(tracked.rowCount, 0, 'the interrupted file is not recorded');
    } finally {
      await run.release();
    }
  });

  test('Ctrl+C on brigade start while a migration waits: it says so, cancels it, and exits 130 without starting anything', async () => {
    const run = await stoppedWhileMigrating(['start']);
    try {
      // Before, the signal was held until the migration finished: released here, it then started the platform ("Brigade is up") and stopped it.
      await eventually(async () => run.gone());
      await run.release();
      const result = await run.exited;
      assert.equal(result.code, 130, result.stdout + result.stderr);
      assert.doesNotMatch(result.stdout, /Brigade is up/);
      assert.match(result.stderr, /brigade start: SIGINT during start-up: stopping the migrations, starting nothing/);
      assert.equal((await migrators())[0], 0);
      assert.equal(await migrationLockFree(), true);
    } finally {
      await run.release();
    }
  });
});
