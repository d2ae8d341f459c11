import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/platform/db/index.ts';
import { runCli, runMain } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { newBrigadeHome } from '../support/embeddedHome.ts';

describe('commands against a database that was never migrated', () => {
  const database = useTestDatabase({ empty: true });
  const commands = [
    ['tenants', 'list'],
    ['tenants', 'add', 'Casa Nova', '--city', 'Porto'],
    ['dlq', 'list'],
    ['dlq', 'show', '00000000-0000-4000-8000-000000000000'],
    ['projections', 'status'],
    ['projections', 'rebuild', 'board'],
    ['sagas', 'list'],
    ['sagas', 'show', '00000000-0000-4000-8000-000000000000'],
  ];
  for (const args of commands) {
    test(`brigade ${args.join(' ')} says to run brigade migrate, not a raw SQL error`, async () => {
      const result = await runMain(args, { DATABASE_URL: database.db.url });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      assert.match(result.stderr, new RegExp(`^brigade ${args[0]}: the database at DATABASE_URL is not migrated \\(.*does not exist\\): run 'brigade migrate' first$`), result.stderr);
    });
  }

  test('a database or a user PostgreSQL does not know: the error, and what to do about it', async () => {
    const url = new URL(database.db.url);
    url.pathname = '/brigade_no_such_database';
    const noDatabase = await runMain(['tenants', 'list'], { DATABASE_URL: url.toString() });
    assert.equal(noDatabase.code, 1, noDatabase.stderr);
    assert.match(noDatabase.stderr, /database "brigade_no_such_database" does not exist\nCreate that database \(psql -c 'create database <name>'\), or point DATABASE_URL at one that exists\./);
    const stranger = new URL(database.db.url);
    stranger.username = 'brigade_no_such_user';
    const noUser = await runMain(['tenants', 'list'], { DATABASE_URL: stranger.toString() });
    assert.equal(noUser.code, 1, noUser.stderr);
    assert.match(noUser.stderr, /Check the user .*in DATABASE_URL/);
  });

  // Found by a review of the CLI: every worker started and some two dozen "relation … does not exist;
  // retrying" warnings came around the one line that said what to do (a consumer's crash).
  test('brigade worker: says to run brigade migrate in one line, naming what is pending, and starts no worker', async () => {
    const result = await runCli(['worker'], { DATABASE_URL: database.db.url });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.deepEqual(result.stderr.trim().split('\n'), [result.stderr.trim()], `one line: ${result.stderr}`);
    assert.match(result.stderr, /^brigade worker: the database at DATABASE_URL is not migrated \(platform\/0001_[a-z_]+\.sql pending, and \d+ more\): run 'brigade migrate' first$/m, result.stderr);
    assert.doesNotMatch(result.stdout, /workers|Stopped/, result.stdout);
  });
});

describe('brigade worker on a migrated database that has lost a table', () => {
  const database = useTestDatabase();

  // Every file applied, so the check before the start passes: the worker that meets the missing table still says what to do.
  test('a worker that meets the missing table says to run brigade migrate, and the process does not call its stop clean', async () => {
    await database.pool(1).query('drop table brigade_bus.subscriptions cascade');
    const result = await runCli(['worker', 'ordering/dispatch-alerts-consumer'], { DATABASE_URL: database.db.url });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /worker ordering\/dispatch-alerts-consumer crashed: the database at DATABASE_URL is not migrated \(.*does not exist\): run 'brigade migrate' first; shutting down/, result.stderr);
    assert.match(result.stdout, /Stopped \(exit 1: see the errors above\)\./);
    assert.doesNotMatch(result.stdout, /Stopped cleanly/);
  });
});

describe('commands on a fresh embedded PostgreSQL that was never migrated (DATABASE_URL unset)', () => {
  // One new cluster for every case: started here and kept running, so that each command joins it
  // rather than initialising and starting a server of its own. Its app roles (brigade_platform …) do
  // not exist yet: migrating creates them, so the first statement that takes one fails with 42704.
  let home: Awaited<ReturnType<typeof newBrigadeHome>>;
  let server: EmbeddedDatabase;
  before(async () => {
    home = await newBrigadeHome('brigade-never-migrated-');
    server = await startEmbeddedPostgres({ dir: path.join(home.home, 'pg') });
  });
  after(async () => {
    await server?.stop();
    await home?.cleanUp();
  });
  const commands = [
    ['tenants', 'list'],
    ['tenants', 'add', 'Casa Nova', '--city', 'Porto'],
    ['projections', 'status'],
    ['projections', 'rebuild', 'board'],
    ['sagas', 'show', '00000000-0000-4000-8000-000000000000'],
    ['token', '--role', 'staff', '--restaurant', '00000000-0000-4000-8000-000000000000'],
  ];
  for (const args of commands) {
    test(`brigade ${args.join(' ')} says to run brigade migrate, not that role "brigade_…" does not exist`, async () => {
      const result = await runMain(args, { BRIGADE_HOME: home.home });
      assert.equal(result.code, 1, result.stdout + result.stderr);
      // Its last line: those before it say that it joined the server and left it running (on stderr, as every command does).
      assert.match(
        result.stderr.trimEnd().split('\n').at(-1) ?? '',
        new RegExp(`^brigade ${args[0]}: the embedded database \\(DATABASE_URL is unset\\) is not migrated \\(role "brigade_\\w+" does not exist\\): run 'brigade migrate' first$`),
        result.stderr,
      );
    });
  }

  test('another role that does not exist is not taken for a database that was never migrated', async () => {
    const { missingTableOrSchema } = await import('../../src/cli/notMigrated.ts');
    // SET ROLE says 22023 (what the commands above meet), a grant to a missing role 42704.
    for (const code of ['22023', '42704']) {
      const error = Object.assign(new Error('role "someone_else" does not exist'), { code });
      assert.equal(missingTableOrSchema(error), undefined);
      const ours = Object.assign(new Error('role "brigade_platform" does not exist'), { code });
      assert.equal(missingTableOrSchema(new Error('wrapped', { cause: ours })), 'role "brigade_platform" does not exist');
    }
  });
});
