import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { runMain } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

describe('brigade dlq: list says how many there are past the first page; an id that names nothing says what to do', () => {
  const database = useTestDatabase();
  before(async () => {
    // 101 dead letters: one more than a list shows by default.
    await database.pool(1).query(
      `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
       select gen_random_uuid(), case when i <= 3 then 'menu/other' else 'ordering/consumer' end, gen_random_uuid(), 'some.event', 'k', '{}', 'null', 'it failed', 5,
              now() - make_interval(secs => i), now() - make_interval(secs => i), 'postgres'
         from generate_series(1, 101) i`,
    );
  });

  test('the default list stops at 100 and says so', async () => {
    const result = await runMain(['dlq', 'list'], { DATABASE_URL: database.db.url });
    assert.equal(result.code, 0, result.stderr);
    assert.equal(result.stdout.split('\n').filter((line) => /^[0-9a-f-]{36} {2}/.test(line)).length, 100);
    assert.match(result.stdout, /101 dead letter\(s\), showing the first 100 \(newest failure first; --limit N for more\)$/);
  });

  test('--limit N, with --subscription', async () => {
    const all = await runMain(['dlq', 'list', '--limit', '200'], { DATABASE_URL: database.db.url });
    assert.match(all.stdout, /\n101 dead letter\(s\)$/);
    const some = await runMain(['dlq', 'list', '--subscription', 'menu/other', '--limit', '2'], { DATABASE_URL: database.db.url });
    assert.match(some.stdout, /\n3 dead letter\(s\), showing the first 2 /);
    for (const bad of ['0', '2.5', 'many']) assert.equal((await runMain(['dlq', 'list', '--limit', bad], { DATABASE_URL: database.db.url })).code, 2);
    assert.equal((await runMain(['dlq', 'drop', '00000000-0000-4000-8000-000000000000', '--limit', '2'], { DATABASE_URL: database.db.url })).code, 2);
  });

  test('show, redrive and drop of an id that names no dead letter say where the ids are and why it may be gone', async () => {
    const nothing = '00000000-0000-7000-8000-000000000000';
    for (const action of ['show', 'redrive', 'drop']) {
      const result = await runMain(['dlq', action, nothing], { DATABASE_URL: database.db.url });
      assert.equal(result.code, 1, `${action}: ${result.stderr}`);
      assert.match(result.stderr, new RegExp(`Dead letter ${nothing} not found: 'brigade dlq list' .*shows the ids; it may have been redriven or dropped already`), action);
    }
  });
});
