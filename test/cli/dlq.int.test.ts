import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runCli, runMain, spawnCli } from '../support/cli.ts';
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

  const idsOf = (stdout: string) => stdout.split('\n').filter((line) => /^[0-9a-f-]{36} {2}/.test(line)).map((line) => line.slice(0, 36));

  test('the default list stops at 100, says so and names the command of the next page, which shows the rest', async () => {
    const result = await runMain(['dlq', 'list'], { DATABASE_URL: database.db.url });
    assert.equal(result.code, 0, result.stderr);
    const first = idsOf(result.stdout);
    assert.equal(first.length, 100);
    // Before: "--limit N for more", which is refused above 10,000.
    assert.ok(result.stdout.endsWith(`101 dead letter(s), showing the first 100 (newest failure first; the next page: brigade dlq list --before ${first[99]})`), result.stdout);
    const next = await runMain(['dlq', 'list', '--before', first[99]!], { DATABASE_URL: database.db.url });
    assert.equal(next.code, 0, next.stderr);
    const second = idsOf(next.stdout);
    assert.equal(second.length, 1);
    assert.ok(!first.includes(second[0]!));
    assert.ok(next.stdout.endsWith(`101 dead letter(s), showing 1 after ${first[99]} (newest failure first; the last page)`), next.stdout);
  });

  test('pages of --limit N with --subscription: every letter once, in order; the next page keeps the flags', async () => {
    const env = { DATABASE_URL: database.db.url };
    const whole = idsOf((await runMain(['dlq', 'list', '--subscription', 'ordering/consumer', '--limit', '200'], env)).stdout);
    assert.equal(whole.length, 98);
    const paged: string[] = [];
    let args = ['dlq', 'list', '--subscription', 'ordering/consumer', '--limit', '40'];
    for (let pages = 0; pages < 10; pages++) {
      const page = await runMain(args, env);
      assert.equal(page.code, 0, page.stderr);
      paged.push(...idsOf(page.stdout));
      const next = /the next page: brigade dlq list --subscription "ordering\/consumer" --limit 40 --before ([0-9a-f-]{36})\)$/.exec(page.stdout);
      if (next === null) break;
      args = ['dlq', 'list', '--subscription', 'ordering/consumer', '--limit', '40', '--before', next[1]!];
    }
    assert.deepEqual(paged, whole);
    assert.equal((await runMain(['dlq', 'list', '--before', 'not-an-id'], env)).code, 2);
    assert.equal((await runMain(['dlq', 'redrive', '--all', '--before', whole[0]!], env)).code, 2);
    const gone = await runMain(['dlq', 'list', '--before', '00000000-0000-7000-8000-000000000000'], env);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /is gone \(redriven or dropped since\): list again from the first page/);
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
      assert.match(result.stderr, new RegExp(`Dead letter ${nothing} not found: 'brigade dlq list' .*shows the ids; it may have been dropped, or redriven already \\(one whose handler failed again is parked under a new id`), action);
    }
  });
});

describe('brigade dlq: a letter of a message published onto the stream outside the platform', () => {
  const database = useTestDatabase();
  let id: string;
  before(async () => {
    // As the JetStream transport parks a stream message it cannot take: the body as text, what is wrong and where it was in headers, no attempt.
    const { rows } = await database.pool(1).query<{ id: string }>(
      `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
       values (gen_random_uuid(), 'menu-consumer', gen_random_uuid(), 'menu.item.changed', '', $1, '"not json"', 'UndecodableMessageError [MESSAGE_UNDECODABLE]: …', 0, now(), now(), 'nats')
       returning id::text as id`,
      [JSON.stringify({ correlation: '', causation: '', tenant: '', traceparent: '', 'brigade-undecodable': 'its body is not JSON (Unexpected token)', 'brigade-stream-sequence': '42' })],
    );
    id = rows[0]!.id;
  });

  test('show prints its body as it came; redrive refuses it (whatever the transport) and says to drop it; drop removes it', async () => {
    const env = { DATABASE_URL: database.db.url };
    const shown = await runMain(['dlq', 'show', id], env);
    assert.equal(shown.code, 0, shown.stderr);
    const letter = JSON.parse(shown.stdout) as { message: { payload: unknown; headers: Record<string, string> } };
    assert.equal(letter.message.payload, 'not json');
    assert.equal(letter.message.headers['brigade-stream-sequence'], '42');
    // Without NATS_URL: before, it was refused as the other transport's ("run the redrive with NATS_URL set"), which would only have parked it again.
    const redriven = await runMain(['dlq', 'redrive', id], env);
    assert.equal(redriven.code, 1, redriven.stdout);
    assert.match(redriven.stderr, new RegExp(`Dead letter ${id} cannot go back: its body is not JSON \\(Unexpected token\\) \\(message 42 of the stream\\).*'brigade dlq drop ${id}'`));
    const all = await runMain(['dlq', 'redrive', '--all'], env);
    assert.equal(all.code, 1);
    assert.match(all.stderr, new RegExp(`${id} \\(menu-consumer\\) could not go back: Dead letter ${id} cannot go back`));
    assert.equal((await runMain(['dlq', 'show', id], env)).code, 0, 'it stays parked');
    const dropped = await runMain(['dlq', 'drop', id], env);
    assert.equal(dropped.code, 0, dropped.stderr);
    assert.equal((await runMain(['dlq', 'show', id], env)).code, 1);
  });
});

// Found by a review: brigade dlq redrive --all said nothing until it had sent every letter back, and a
// Ctrl+C ended it without a word (how many had gone back, how many were left).
describe('brigade dlq redrive --all: progress on stderr, and Ctrl+C stops between letters saying what is left', () => {
  const database = useTestDatabase();
  const letters = 5;
  before(async () => {
    const pool = database.pool(1);
    await pool.query(`insert into brigade_bus.subscriptions (name, pattern, pattern_regex, lease_ms) values ('fix-redrive', 'some.event', '^some\\.event$', 30000)`);
    await pool.query(
      `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
       select gen_random_uuid(), 'fix-redrive', gen_random_uuid(), 'some.event', 'k', '{}', 'null', 'it failed', 5, now(), now(), 'postgres'
         from generate_series(1, $1::int)`,
      [letters],
    );
  });

  test('held on its first letter, it says "redriven 0 of 5, 5 left" every second; SIGINT lets that letter finish, then it stops: "redriven 1, 4 left: run it again", exit 130', async () => {
    // A transaction that holds brigade_bus.deliveries in share mode keeps the first redelivery waiting
    // (its insert) for as long as the test wants: the progress line and the signal come while it waits.
    const holder = await database.pool(1).connect();
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      await holder.query('rollback').catch(() => undefined);
      holder.release();
    };
    await holder.query('begin');
    await holder.query('lock table brigade_bus.deliveries in share mode');
    const cli = spawnCli(['dlq', 'redrive', '--all'], { DATABASE_URL: database.db.url });
    try {
      const waitFor = async (pattern: RegExp, what: string) => {
        for (const started = Date.now(); !pattern.test(cli.output()); await sleep(20)) {
          if (cli.gone()) assert.fail(`brigade dlq redrive --all exited before ${what}:\n${cli.output()}`);
          if (Date.now() - started > 120_000) assert.fail(`no ${what} within 120 s:\n${cli.output()}`);
        }
      };
      // Before: nothing until the end.
      await waitFor(/redriven 0 of 5, 5 left …/, 'progress line');
      cli.child.kill('SIGINT');
      await waitFor(/SIGINT/, 'word of the signal');
      assert.equal(cli.gone(), false, cli.output());
      await release();
      const result = await cli.exited;
      assert.equal(result.code, 130, `${result.stdout}\n${result.stderr}`);
      assert.match(result.stderr, /redriven 0 of 5\b/);
      assert.match(result.stderr, /^brigade dlq: redriven 1, 4 left: run it again$/m, result.stderr);
      const { rows } = await database.pool(1).query<{ n: number }>(`select count(*)::int as n from brigade_bus.dead_letters where subscription = 'fix-redrive'`);
      assert.equal(rows[0]?.n, 4, 'the letter in flight went back; the others stay parked');
      // Run again, it sends the rest.
      const again = await runCli(['dlq', 'redrive', '--all'], { DATABASE_URL: database.db.url });
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stdout, /^redriven 4 dead letter\(s\)$/m);
    } finally {
      await release();
      if (!cli.gone()) cli.child.kill('SIGKILL');
      await cli.exited;
    }
  });
});

// A run of the redrive of all is bounded (1000 letters by default; found by a review of the admin
// HTTP, where one request went through every letter): the CLI goes through them all, run after run.
describe('brigade dlq redrive --all: more letters than a run takes', () => {
  const database = useTestDatabase();
  let other: string;
  before(async () => {
    const pool = database.pool(1);
    await pool.query(`insert into brigade_bus.subscriptions (name, pattern, pattern_regex, lease_ms) values ('many-redrive', 'some.event', '^some\\.event$', 30000)`);
    // 1,203 letters, the 600th parked by the other transport (it cannot go back here).
    const { rows } = await pool.query<{ id: string }>(
      `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
       select ('01900000-0000-7000-8000-' || lpad(i::text, 12, '0'))::uuid, 'many-redrive', gen_random_uuid(), 'some.event', 'k', '{}', 'null', 'it failed', 5, now(), now(),
              case when i = 600 then 'nats' else 'postgres' end
         from generate_series(1, 1203) i
       returning id::text as id, transport`,
    );
    other = rows.find((r) => (r as { transport?: string }).transport === 'nats')!.id;
  });

  test('every letter goes back, across runs; the one that cannot is reported once and stays', async () => {
    const result = await runMain(['dlq', 'redrive', '--all'], { DATABASE_URL: database.db.url });
    assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stdout, /^redriven 1202 dead letter\(s\)$/m);
    // Where a letter whose handler fails again goes (before: nothing, and its old id then "not found").
    assert.match(result.stdout, /^sent back to their subscriptions: one whose handler fails again is parked under a new id \(brigade dlq list\)$/m);
    assert.equal(result.stderr.split(`${other} (many-redrive) could not go back: Dead letter ${other} was parked by the nats transport`).length, 2, result.stderr);
    assert.match(result.stderr, /^1 dead letter\(s\) stayed/m);
    const { rows } = await database.pool(1).query<{ id: string }>('select id::text as id from brigade_bus.dead_letters');
    assert.deepEqual(rows.map((r) => r.id), [other]);
  });

  test('a letter redriven by its id: the answer names its subscription, where it is parked again under a new id if its handler fails again', async () => {
    const { rows } = await database.pool(1).query<{ id: string }>(
      `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
       values (gen_random_uuid(), 'many-redrive', gen_random_uuid(), 'some.event', 'k', '{}', 'null', 'it failed', 5, now(), now(), 'postgres') returning id::text as id`,
    );
    const result = await runMain(['dlq', 'redrive', rows[0]!.id], { DATABASE_URL: database.db.url });
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^redriven 1 dead letter\(s\)\nsent back to many-redrive: one whose handler fails again is parked under a new id \(brigade dlq list --subscription many-redrive\)$/m);
  });
});

// Found by a review of the CLI: a subscription named by --subscription that does not exist (a typo)
// was taken as one with no letters: "redriven 0 dead letter(s)", exit 0, in the middle of an incident.
describe('brigade dlq list|redrive --all --subscription S: a name that is no subscription is refused, naming those that are', () => {
  const database = useTestDatabase();
  before(async () => {
    const pool = database.pool(1);
    // One registered subscription without letters, and letters of a subscription gone from the registry.
    await pool.query(`insert into brigade_bus.subscriptions (name, pattern, pattern_regex, lease_ms) values ('quiet-consumer', 'some.event', '^some\\.event$', 30000)`);
    await pool.query(
      `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
       values (gen_random_uuid(), 'removed-consumer', gen_random_uuid(), 'some.event', 'k', '{}', 'null', 'it failed', 5, now(), now(), 'postgres')`,
    );
  });

  test('a typo: exit 2, "no subscription named …", with the known ones (the registry\'s and the letters\'); nothing is redriven', async () => {
    const env = { DATABASE_URL: database.db.url };
    for (const args of [['dlq', 'list', '--subscription', 'quiet-consumr'], ['dlq', 'redrive', '--all', '--subscription', 'quiet-consumr']]) {
      const result = await runMain(args, env);
      // Before: exit 0, "0 dead letter(s)" and "redriven 0 dead letter(s)".
      assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
      assert.match(result.stderr, /^brigade dlq: no subscription named "quiet-consumr" \(known: quiet-consumer, removed-consumer\)$/m, result.stderr);
      assert.doesNotMatch(result.stdout, /dead letter\(s\)/);
    }
    const { rows } = await database.pool(1).query<{ n: number }>('select count(*)::int as n from brigade_bus.dead_letters');
    assert.equal(rows[0]?.n, 1);
  });

  test('a subscription that exists with no letters answers 0 as before; one known only by its letters lists them', async () => {
    const env = { DATABASE_URL: database.db.url };
    const listed = await runMain(['dlq', 'list', '--subscription', 'quiet-consumer'], env);
    assert.deepEqual([listed.code, listed.stdout.split('\n').at(-1)], [0, '0 dead letter(s)'], listed.stderr);
    const redriven = await runMain(['dlq', 'redrive', '--all', '--subscription', 'quiet-consumer'], env);
    assert.equal(redriven.code, 0, redriven.stderr);
    assert.match(redriven.stdout, /^redriven 0 dead letter\(s\)$/m);
    const removed = await runMain(['dlq', 'list', '--subscription', 'removed-consumer'], env);
    assert.deepEqual([removed.code, removed.stdout.split('\n').at(-1)], [0, '1 dead letter(s)'], removed.stderr);
  });
});
