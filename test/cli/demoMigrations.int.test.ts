import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { databaseLabel } from '../../src/platform/db/createDatabases.ts';
import { MIGRATION_LOCK_KEY } from '../../src/platform/migrations/index.ts';
import { runMain, spawnCli } from '../support/cli.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../support/db.ts';
import { eventually, within } from '../support/eventually.ts';

// brigade demo migrates as brigade start does: every database (the configured ones and each restaurant's
// own from the placement catalog), saying what it does. It used to migrate the configured ones only, and
// in silence: held up by another migrator's lock, it printed nothing at all until Ctrl+C.
describe('brigade demo migrates every database and says so', () => {
  const shared = useTestDatabase();
  /** A restaurant's own database, empty: demo has its migrations to apply. */
  let own: TestDatabase;
  let holder: pg.Client | undefined;
  const env = () => ({ DATABASE_URL: shared.db.url, PORT: '0', BRIGADE_SECRET: 'x'.repeat(40) });

  before(async () => {
    own = await createTestDatabase({ empty: true });
    const added = await runMain(['tenants', 'add', 'Own Tasca', '--city', 'Braga'], env());
    assert.equal(added.code, 0, added.stderr);
    const id = /created restaurant ([0-9a-f-]{36})/.exec(added.stdout)![1]!;
    const pool = shared.pool(1);
    await pool.query(`insert into platform.tenant_placements (tenant_id, database_url) values ($1, $2)`, [id, own.url]);
  });
  after(async () => {
    await holder?.end();
    await own?.drop();
  });

  /** Holds the migration lock in the database at `url` (as a `psql` session would) until the test ends. */
  const holdLock = async (url: string) => {
    await holder?.end();
    holder = new pg.Client({ connectionString: url, application_name: 'psql' });
    await holder.connect();
    const { rows } = await holder.query<{ pid: number }>('select pg_backend_pid() as pid, pg_advisory_lock($1::bigint)', [MIGRATION_LOCK_KEY]);
    return rows[0]!.pid;
  };

  /** `brigade demo` until `waiting` shows in its output, then Ctrl+C: the output, and its exit. */
  const demoUntil = async (waiting: RegExp) => {
    const run = spawnCli(['demo', '--orders', '1'], env());
    try {
      await within(eventually('the waiting line', async () => (run.gone() ? 'exited' : run.output()), (out) => out === 'exited' || waiting.test(out), 60_000), 65_000, 'the waiting line');
      assert.ok(!run.gone(), `demo exited without saying it waits:\n${run.output()}`);
      run.child.kill('SIGINT');
      const result = await within(run.exited, 30_000, 'brigade demo to exit');
      return result;
    } finally {
      if (!run.gone()) run.child.kill('SIGKILL');
    }
  };

  test('another migrator holding the lock on the main database is named while demo waits; Ctrl+C ends the wait', async () => {
    const pid = await holdLock(shared.db.url);
    try {
      const result = await demoUntil(new RegExp(`another migrator \\(backend pid ${pid}, psql\\) holds the migration lock; waiting for it to finish …`));
      assert.equal(result.code, 130, result.stdout + result.stderr);
      assert.match(result.stderr, /brigade demo: Migrating was interrupted by SIGINT while .* Nothing to fix: run brigade demo again/);
    } finally {
      await holder?.end();
      holder = undefined;
    }
  });

  test("a restaurant's own database is migrated too, named by its label", async () => {
    const pid = await holdLock(own.url);
    try {
      const label = databaseLabel(own.url);
      const result = await demoUntil(new RegExp(`database ${label} \\(a restaurant's own, placement catalog\\):\\nanother migrator \\(backend pid ${pid}, psql\\) holds the migration lock`));
      assert.equal(result.code, 130, result.stdout + result.stderr);
      assert.ok(!result.stdout.includes(own.url), 'its connection string is not printed');
    } finally {
      await holder?.end();
      holder = undefined;
    }
  });
});
