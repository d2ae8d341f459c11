import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runCli, runMain } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

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

  test('brigade worker: a worker that meets the missing tables says to run brigade migrate, and the process does not call its stop clean', async () => {
    const result = await runCli(['worker', 'ordering/dispatch-alerts-consumer'], { DATABASE_URL: database.db.url });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /worker ordering\/dispatch-alerts-consumer crashed: the database at DATABASE_URL is not migrated \(.*does not exist\): run 'brigade migrate' first; shutting down/, result.stderr);
    assert.match(result.stdout, /Stopped \(exit 1: see the errors above\)\./);
    assert.doesNotMatch(result.stdout, /Stopped cleanly/);
  });
});
