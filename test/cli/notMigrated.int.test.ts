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

  test('brigade worker: a worker that meets the missing tables says to run brigade migrate, and the process does not call its stop clean', async () => {
    const result = await runCli(['worker', 'ordering/dispatch-alerts-consumer'], { DATABASE_URL: database.db.url });
    assert.equal(result.code, 1, result.stdout + result.stderr);
    assert.match(result.stderr, /worker ordering\/dispatch-alerts-consumer crashed: the database at DATABASE_URL is not migrated \(.*does not exist\): run 'brigade migrate' first; shutting down/, result.stderr);
    assert.match(result.stdout, /Stopped \(exit 1: see the errors above\)\./);
    assert.doesNotMatch(result.stdout, /Stopped cleanly/);
  });
});
