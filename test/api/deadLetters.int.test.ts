import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import client from 'prom-client';
import { buildApp } from '../../src/api/index.ts';
import { newMessageId, type Transport } from '../../src/platform/messaging/index.ts';
import { runCli } from '../support/cli.ts';
import { within } from '../support/eventually.ts';
import { startTestPlatform, type TestPlatform } from '../support/platform.ts';
import { message, token, waitFor } from '../platform/messaging/support.ts';

test('dead letters through admin HTTP and `brigade dlq`: list, show, redrive once fixed, drop', async () => {
  const t = await startTestPlatform();
  const stop = new AbortController();
  try {
    const { transport } = t.platform.deps;
    const sub = `${token()}-dlq`;
    await transport.ensureSubscription({ subscription: sub, pattern: 'delivery.task.*' });
    let fixed = false;
    const handled: string[] = [];
    void transport.subscribe({ subscription: sub, maxAttempts: 2, backoff: { initialMs: 10, maxMs: 20 }, signal: stop.signal }, async (m) => {
      if (!fixed) throw new Error('no courier for this task');
      handled.push(m.id);
    });
    const poison = message('delivery.task.assign', { order: 'o-1' });
    const doomed = message('delivery.task.assign', { order: 'o-2' });
    await transport.publish([poison, doomed]);

    const admin = await t.token('admin', { subject: 'ops' });
    const list = async () => (await t.request({ url: `/v1/admin/dead-letters?subscription=${sub}`, token: admin })).json().deadLetters as Array<{ id: string; attempts: number; error: string; message: { id: string } }>;
    await waitFor('both parked', async () => (await list()).length === 2);
    const parked = await list();
    const letter = parked.find((l) => l.message.id === poison.id);
    assert.ok(letter);
    assert.equal(letter.attempts, 2);
    assert.match(letter.error, /no courier for this task/);

    const shown = await t.request({ url: `/v1/admin/dead-letters/${letter.id}`, token: admin });
    assert.deepEqual([shown.statusCode, shown.json().message.headers.correlation], [200, poison.headers?.correlation]);
    assert.equal((await t.request({ url: `/v1/admin/dead-letters/${letter.id}`, token: await t.token('customer') })).statusCode, 403);
    assert.equal((await t.request({ url: '/v1/admin/dead-letters/00000000-0000-7000-8000-000000000000', token: admin })).statusCode, 404);

    // The CLI sees the same store.
    const cli = await runCli(['dlq', 'list', '--subscription', sub], { DATABASE_URL: t.db.url });
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, new RegExp(`${letter.id}\\s+${sub}`));
    assert.match(cli.stdout, /2 dead letter\(s\)/);
    assert.equal((await runCli(['dlq', 'redrive'], { DATABASE_URL: t.db.url })).code, 2, 'redrive needs an ID or --all');

    fixed = true;
    const redriven = await t.request({ method: 'POST', url: `/v1/admin/dead-letters/${letter.id}/redrive`, token: admin });
    assert.deepEqual([redriven.statusCode, redriven.json().redriven], [200, 1]);
    await waitFor('handled after the fix', () => handled.includes(poison.id));
    assert.equal(handled.filter((id) => id === poison.id).length, 1);

    const other = (await list()).find((l) => l.message.id === doomed.id);
    assert.ok(other);
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/admin/dead-letters/${other.id}`, token: admin })).statusCode, 204);
    assert.deepEqual(await list(), []);
    assert.ok(!handled.includes(doomed.id), 'a dropped message is not delivered');
    const metrics = (await t.request({ url: '/metrics' })).body;
    assert.match(metrics, /# TYPE brigade_dlq_depth gauge/);
  } finally {
    stop.abort();
    await t.close();
  }
});

describe('dead letters over admin HTTP: what an operator is told', () => {
  let t: TestPlatform;
  let admin: string;
  /** Parks a letter of `subscription` straight in the store (failed `secondsAgo` ago); resolves with its id. */
  const park = async (subscription: string, secondsAgo = 0): Promise<string> => {
    const pool = t.platform.deps.databases.poolFor('platform');
    const { rows } = await pool.query<{ id: string }>(
      `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
       values (gen_random_uuid(), $1, gen_random_uuid(), 'delivery.task.assign', 'k', '{}', 'null', 'it failed', 5,
               now() - make_interval(secs => $2), now() - make_interval(secs => $2), 'postgres') returning id::text as id`,
      [subscription, secondsAgo],
    );
    return rows[0]!.id;
  };
  before(async () => {
    t = await startTestPlatform();
    admin = await t.token('admin', { subject: 'ops' });
  });
  after(async () => {
    await t?.close();
  });

  test('redriving a letter whose subscription is gone is a 409 SUBSCRIPTION_UNKNOWN saying what to do (brigade migrate, or drop it), not a 404; the letter stays', async () => {
    const id = await park(`${token()}-gone`);
    const res = await t.request({ method: 'POST', url: `/v1/admin/dead-letters/${id}/redrive`, token: admin });
    assert.equal(res.statusCode, 409, res.body);
    assert.equal(res.json().code, 'SUBSCRIPTION_UNKNOWN');
    assert.match(res.json().detail, /'brigade migrate' creates the platform's subscriptions/);
    assert.ok(res.json().detail.includes(`'brigade dlq drop ${id}'`), res.json().detail);
    assert.doesNotMatch(res.json().detail, /ensureSubscription first/);
    assert.equal((await t.request({ url: `/v1/admin/dead-letters/${id}`, token: admin })).statusCode, 200, 'the letter stays parked');
  });

  test('redriving a letter of a message published onto the stream outside the platform is a 409 DEAD_LETTER_UNDECODABLE saying to fix the publisher and drop it; the letter stays', async () => {
    const pool = t.platform.deps.databases.poolFor('platform');
    const { rows } = await pool.query<{ id: string }>(
      `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
       values (gen_random_uuid(), $1, gen_random_uuid(), 'delivery.task.assign', '', $2, '"not json"', 'UndecodableMessageError [MESSAGE_UNDECODABLE]: …', 0, now(), now(), 'nats')
       returning id::text as id`,
      [`${token()}-raw`, JSON.stringify({ correlation: '', causation: '', tenant: '', traceparent: '', 'brigade-undecodable': 'it has no message id (Nats-Msg-Id)', 'brigade-stream-sequence': '7' })],
    );
    const id = rows[0]!.id;
    const res = await t.request({ method: 'POST', url: `/v1/admin/dead-letters/${id}/redrive`, token: admin });
    assert.deepEqual([res.statusCode, res.json().code], [409, 'DEAD_LETTER_UNDECODABLE'], res.body);
    assert.ok(res.json().detail.includes(`'brigade dlq drop ${id}'`), res.json().detail);
    const shown = await t.request({ url: `/v1/admin/dead-letters/${id}`, token: admin });
    assert.deepEqual([shown.statusCode, shown.json().message.payload], [200, 'not json'], 'the letter stays parked, its body as it came');
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/admin/dead-letters/${id}`, token: admin })).statusCode, 204);
  });

  // Found by a review: while one redrive held the letter, a second answered 404 "may have been redriven
  // or dropped already", though GET showed it, and it stayed parked when the first failed.
  test('a letter another redrive or drop holds right now: its redrive and its drop are a 409 DEAD_LETTER_BUSY saying to retry, not a 404; GET shows it', async () => {
    const id = await park(`${token()}-gone`);
    const holder = await t.platform.deps.databases.poolFor('platform').connect();
    try {
      await holder.query('begin');
      await holder.query('select from brigade_bus.dead_letters where id = $1 for update', [id]);
      for (const [method, url] of [['POST', `/v1/admin/dead-letters/${id}/redrive`], ['DELETE', `/v1/admin/dead-letters/${id}`]] as const) {
        const res = await t.request({ method, url, token: admin });
        assert.deepEqual([res.statusCode, res.json().code, res.json().deadLetter], [409, 'DEAD_LETTER_BUSY', id], `${method} ${url}: ${res.body}`);
        assert.match(res.json().detail, /is being redriven or dropped right now: retry in a moment/);
      }
      assert.equal((await t.request({ url: `/v1/admin/dead-letters/${id}`, token: admin })).statusCode, 200);
    } finally {
      await holder.query('rollback');
      holder.release();
    }
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/admin/dead-letters/${id}`, token: admin })).statusCode, 204, 'once let go, the drop goes through');
  });

  // Found by a review: it was a 400 MESSAGE_INVALID naming field "subject", which the request has not.
  test('redriving a letter whose subscription no longer takes its subject is a 409 SUBSCRIPTION_SUBJECT_MISMATCH naming both and saying what to do; the letter stays', async () => {
    const moved = `${token()}-moved`;
    await t.platform.deps.databases.poolFor('platform').query(`insert into brigade_bus.subscriptions (name, pattern, pattern_regex, lease_ms) values ($1, 'menu.item.*', '^menu\\.item\\.[^.]+$', 30000)`, [moved]);
    const id = await park(moved);
    const res = await t.request({ method: 'POST', url: `/v1/admin/dead-letters/${id}/redrive`, token: admin });
    assert.equal(res.statusCode, 409, res.body);
    const problem = res.json();
    assert.deepEqual([problem.code, problem.deadLetter, problem.subscription, problem.pattern, problem.subject, problem.field], ['SUBSCRIPTION_SUBJECT_MISMATCH', id, moved, 'menu.item.*', 'delivery.task.assign', undefined]);
    assert.equal(
      problem.detail,
      `Dead letter ${id} cannot go back: its subscription ${moved} takes menu.item.*, not its subject delivery.task.assign (its pattern changed since it was parked). ` +
        `If it should take it, change the subscription's pattern back, then redrive it again; or 'brigade dlq drop ${id}' if no subscription is to take it any more`,
    );
    assert.equal((await t.request({ url: `/v1/admin/dead-letters/${id}`, token: admin })).statusCode, 200, 'the letter stays parked');
    const docs = (await t.request({ url: '/docs/json' })).json();
    assert.match(JSON.stringify(docs.paths['/v1/admin/dead-letters/{id}/redrive'].post.responses['409']), /SUBSCRIPTION_SUBJECT_MISMATCH/);
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/admin/dead-letters/${id}`, token: admin })).statusCode, 204);
  });

  test('an id that names no dead letter: 404 NOT_FOUND whose detail says where the ids are and why it may be gone', async () => {
    const nothing = '00000000-0000-7000-8000-000000000000';
    for (const [method, url] of [['GET', `/v1/admin/dead-letters/${nothing}`], ['POST', `/v1/admin/dead-letters/${nothing}/redrive`], ['DELETE', `/v1/admin/dead-letters/${nothing}`]] as const) {
      const res = await t.request({ method, url, token: admin });
      assert.deepEqual([res.statusCode, res.json().code], [404, 'NOT_FOUND'], `${method} ${url}`);
      assert.match(res.json().detail, /not found: 'brigade dlq list' \(GET \/v1\/admin\/dead-letters\) shows the ids; it may have been dropped, or redriven already \(one whose handler failed again is parked under a new id, the same message id\)$/);
    }
  });

  test('commands on one letter take no fields, and its id is a UUID: a body with a field, or a malformed id, is a 400 naming it', async () => {
    const id = await park(`${token()}-gone`);
    // Before, any JSON body was taken and ignored, and a malformed id was a 404 found by no lookup.
    for (const [method, url] of [['POST', `/v1/admin/dead-letters/${id}/redrive`], ['DELETE', `/v1/admin/dead-letters/${id}`]] as const) {
      const res = await t.request({ method, url, token: admin, payload: { everything: true } });
      assert.deepEqual([res.statusCode, res.json().field], [400, 'body.everything'], `${method} ${url}: ${res.body}`);
    }
    assert.equal((await t.request({ url: `/v1/admin/dead-letters/${id}`, token: admin })).statusCode, 200, 'the letter stays parked');
    for (const [method, url] of [['GET', '/v1/admin/dead-letters/nope'], ['POST', '/v1/admin/dead-letters/nope/redrive'], ['DELETE', '/v1/admin/dead-letters/nope']] as const) {
      const res = await t.request({ method, url, token: admin });
      assert.deepEqual([res.statusCode, res.json().field], [400, 'params.id'], `${method} ${url}: ${res.body}`);
    }
    for (const body of [{}, { headers: { 'content-type': 'application/json' }, payload: '' }]) {
      const res = await t.request({ method: 'POST', url: `/v1/admin/dead-letters/${id}/redrive`, token: admin, ...body });
      assert.equal(res.statusCode, 409, `no body is no fields: ${res.body}`); // its subscription is gone
    }
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/admin/dead-letters/${id}`, token: admin, payload: {} })).statusCode, 204);
  });

  test('redrive of every letter needs no body: none, an empty one, or {} means all', async () => {
    const bodies = [{}, { headers: { 'content-type': 'application/json' }, payload: '' }, { payload: {} }];
    for (const body of bodies) {
      const gone = await park(`${token()}-gone`);
      const res = await t.request({ method: 'POST', url: '/v1/admin/dead-letters/redrive', token: admin, ...body });
      assert.equal(res.statusCode, 200, `${JSON.stringify(body)}: ${res.body}`);
      // Every letter was taken: this one could not go back (no such subscription) and says so, with
      // what to do with it, as a redrive of that one letter does (it lacked the "drop ID").
      const failed = (res.json().failed as Array<{ id: string; error: string }>).find((f) => f.id === gone);
      assert.ok(failed?.error.startsWith(`Dead letter ${gone} cannot go back: its subscription `), res.body);
      assert.ok(failed?.error.endsWith(`or 'brigade dlq drop ${gone}' if it is not wanted`), failed?.error);
    }
    const unknownField = await t.request({ method: 'POST', url: '/v1/admin/dead-letters/redrive', token: admin, payload: { everything: true } });
    assert.equal(unknownField.statusCode, 400, 'a field it does not know is still refused');
  });

  // Found by a review of the contracts: the schema's date-time and the cursor's own check let these
  // through, PostgreSQL refused them (22008, 22009), and the redrive answered 500 INTERNAL.
  test('a parkedBy PostgreSQL cannot hold (year 0000, a zone offset past ±15:59) is a 400 VALIDATION_FAILED on parkedBy saying what to send; no letter goes back', async () => {
    const id = await park(`${token()}-gone`);
    for (const parkedBy of ['0000-01-01T00:00:00Z', '2026-01-01T00:00:00+23:59', '2026-01-01T00:00:00-16:00']) {
      const res = await t.request({ method: 'POST', url: '/v1/admin/dead-letters/redrive', token: admin, payload: { parkedBy } });
      assert.deepEqual([res.statusCode, res.json().code], [400, 'VALIDATION_FAILED'], `${parkedBy}: ${res.body}`);
      // The member's name with its location, as the route's other errors name it.
      assert.equal(res.json().field, 'body.parkedBy', res.body);
      assert.ok(res.json().detail.includes(JSON.stringify(parkedBy)), res.json().detail);
      assert.match(res.json().detail, /send the parkedBy of an earlier run's next, unchanged/, res.json().detail);
    }
    const shown = await t.request({ url: `/v1/admin/dead-letters/${id}`, token: admin });
    assert.equal(shown.statusCode, 200, 'the letter is still parked');
  });

  // Found by a review of the CLI: a subscription that does not exist (a typo) was answered as one with no
  // letters, 200 with none listed or none redriven.
  test('a subscription that names nothing is a 400 NO_SUCH_SUBSCRIPTION naming the known ones, for the list and the redrive; one with no letters is a 200', async () => {
    const pool = t.platform.deps.databases.poolFor('platform');
    const quiet = `${token()}-quiet`;
    await pool.query(`insert into brigade_bus.subscriptions (name, pattern, pattern_regex, lease_ms) values ($1, 'some.event', '^some\\.event$', 30000)`, [quiet]);
    const typo = `${quiet}x`;
    // The field where the request carried it, as the routes' other 400s name it (it was a bare "subscription").
    for (const [method, url, payload, field] of [
      ['GET', `/v1/admin/dead-letters?subscription=${typo}`, undefined, 'querystring.subscription'],
      ['POST', '/v1/admin/dead-letters/redrive', { subscription: typo }, 'body.subscription'],
    ] as const) {
      const res = await t.request({ method, url, token: admin, ...(payload === undefined ? {} : { payload }) });
      assert.deepEqual([res.statusCode, res.json().code, res.json().field], [400, 'NO_SUCH_SUBSCRIPTION', field], `${method} ${url}: ${res.body}`);
      assert.ok(res.json().detail.startsWith(`no subscription named "${typo}" (known: `), res.json().detail);
      assert.ok(res.json().detail.includes(quiet), res.json().detail);
    }
    const listed = await t.request({ url: `/v1/admin/dead-letters?subscription=${quiet}`, token: admin });
    assert.deepEqual([listed.statusCode, listed.json().total], [200, 0], listed.body);
    const redriven = await t.request({ method: 'POST', url: '/v1/admin/dead-letters/redrive', token: admin, payload: { subscription: quiet } });
    assert.deepEqual([redriven.statusCode, redriven.json().redriven], [200, 0], redriven.body);
  });

  test('the list pages: ?limit and ?before (the last page\'s next) walk every letter once, newest failure first, with the total on each page', async () => {
    const sub = `${token()}-paged`;
    // Five failed in the same instant (the cursor is failed-at and id, so ties are neither lost nor repeated), two earlier.
    const { rows: tied } = await t.platform.deps.databases.poolFor('platform').query<{ id: string }>(
      `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
       select gen_random_uuid(), $1, gen_random_uuid(), 'delivery.task.assign', 'k', '{}', 'null', 'it failed', 5, now(), now() - interval '5 seconds', 'postgres'
         from generate_series(1, 5) returning id::text as id`,
      [sub],
    );
    const ids = [...tied.map((r) => r.id), await park(sub, 10), await park(sub, 20)];
    const all = await t.request({ url: `/v1/admin/dead-letters?subscription=${sub}&limit=1000`, token: admin });
    assert.equal(all.statusCode, 200, all.body);
    assert.deepEqual([all.json().total, all.json().next, all.json().deadLetters.length], [7, null, 7]);
    const whole = (all.json().deadLetters as Array<{ id: string }>).map((l) => l.id);
    assert.deepEqual([...whole].sort(), [...ids].sort());
    const paged: string[] = [];
    let before: string | null = null;
    for (let pages = 0; pages < 10; pages++) {
      const res = await t.request({ url: `/v1/admin/dead-letters?subscription=${sub}&limit=2${before === null ? '' : `&before=${before}`}`, token: admin });
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().total, 7);
      paged.push(...(res.json().deadLetters as Array<{ id: string }>).map((l) => l.id));
      before = res.json().next;
      if (before === null) break;
      assert.equal(before, paged[paged.length - 1], 'next is the last id of the page');
    }
    assert.deepEqual(paged, whole, 'every letter once, in the order of the whole list');
    // No parameters: the first 100 as before, now with the total and the cursor.
    const plain = (await t.request({ url: '/v1/admin/dead-letters', token: admin })).json();
    assert.ok(Array.isArray(plain.deadLetters) && typeof plain.total === 'number' && 'next' in plain);
    for (const bad of ['limit=0', 'limit=1001', 'limit=many', 'before=not-a-uuid']) {
      assert.equal((await t.request({ url: `/v1/admin/dead-letters?${bad}`, token: admin })).statusCode, 400, bad);
    }
    const gone = await t.request({ url: '/v1/admin/dead-letters?before=00000000-0000-7000-8000-000000000000', token: admin });
    assert.deepEqual([gone.statusCode, gone.json().code], [409, 'DEAD_LETTER_CURSOR_GONE']);
    assert.match(gone.json().detail, /list again from the first page/);
  });
});

// Found by a review: POST /v1/admin/dead-letters/redrive sent every letter back in one request, with no
// bound (20,000 letters took about 5 minutes), and went on after its client had given up; a client
// that retried started a second run over the same letters.
describe('redrive of every letter over admin HTTP: bounded runs that stop when the client or the server goes', () => {
  let t: TestPlatform;
  let admin: string;
  let pool: pg.Pool;
  before(async () => {
    t = await startTestPlatform();
    admin = await t.token('admin', { subject: 'ops' });
    pool = t.platform.deps.databases.poolFor('platform');
  });
  after(async () => {
    await t?.close();
  });

  /** A subscription taking `delivery.task.*` with `count` letters parked (by `parkedBy`: another transport's cannot go back here); resolves with it and the ids, oldest first. */
  const parked = async (count: number, parkedBy: (i: number) => string = () => 'postgres'): Promise<{ sub: string; ids: string[] }> => {
    const sub = `${token()}-all`;
    await pool.query(`insert into brigade_bus.subscriptions (name, pattern, pattern_regex, lease_ms) values ($1, 'delivery.task.*', '^delivery\\.task\\.[^.]+$', 30000)`, [sub]);
    const ids: string[] = [];
    for (let i = 0; i < count; i++) ids.push(await parkOne(sub, parkedBy(i)));
    return { sub, ids: ids.sort() }; // the redrive's order (uuid order)
  };
  const parkOne = async (sub: string, parkedBy = 'postgres'): Promise<string> => {
    const id = newMessageId();
    await pool.query(
      `insert into brigade_bus.dead_letters (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
       values ($1, $2, gen_random_uuid(), 'delivery.task.assign', 'k', '{}', 'null', 'it failed', 5, now(), now(), $3)`,
      [id, sub, parkedBy],
    );
    return id;
  };
  const parkedOf = async (sub: string) => (await pool.query<{ id: string }>('select id::text as id from brigade_bus.dead_letters where subscription = $1 order by id', [sub])).rows.map((r) => r.id);

  test('`limit` bounds a run: it answers what went back, what could not (with why and the drop advice) and how many are left, and `next` continues after the letters it took, never taking one parked since', async () => {
    const { sub, ids } = await parked(5, (i) => (i === 1 ? 'nats' : 'postgres'));
    const run = async (body: Record<string, unknown>) => {
      const res = await t.request({ method: 'POST', url: '/v1/admin/dead-letters/redrive', token: admin, payload: { subscription: sub, ...body } });
      assert.equal(res.statusCode, 200, res.body);
      return res.json() as { redriven: number; failed: Array<{ id: string; error: string }>; left: number; next: { after: string; until: string; parkedBy?: string } | null };
    };
    const first = await run({ limit: 2 });
    assert.deepEqual([first.redriven, first.failed.map((f) => f.id), first.left, first.next], [1, [ids[1]], 3, { after: ids[1], until: ids[4], parkedBy: first.next?.parkedBy }]);
    // The database's time when the run began: the letters parked since are not taken, whatever their id.
    assert.ok(!Number.isNaN(Date.parse(String(first.next?.parkedBy))));
    assert.match(first.failed[0]!.error, /was parked by the nats transport/);
    await sleep(5);
    const later = await parkOne(sub); // parked after the run began: a later id (time-ordered), past `until`
    const second = await run({ limit: 2, ...first.next });
    assert.deepEqual([second.redriven, second.failed, second.left, second.next], [2, [], 1, { after: ids[3], until: ids[4], parkedBy: first.next?.parkedBy }], 'the letter that could not go back is not taken again');
    const third = await run({ limit: 2, ...second.next });
    assert.deepEqual([third.redriven, third.failed, third.left, third.next], [1, [], 0, null]);
    assert.deepEqual(await parkedOf(sub), [ids[1], later], 'the one that could not go back, and the one parked since, stay');
    // No limit: a run of at most 1000; here the two left (one cannot go back).
    const all = await run({});
    assert.deepEqual([all.redriven, all.failed.map((f) => f.id), all.left, all.next], [1, [ids[1]], 0, null]);
    for (const limit of [0, 10_001, 2.5]) {
      const res = await t.request({ method: 'POST', url: '/v1/admin/dead-letters/redrive', token: admin, payload: { limit } });
      assert.deepEqual([res.statusCode, res.json().field], [400, 'body.limit'], `${limit}: ${res.body}`);
    }
    const bad = await t.request({ method: 'POST', url: '/v1/admin/dead-letters/redrive', token: admin, payload: { after: 'not-an-id' } });
    assert.deepEqual([bad.statusCode, bad.json().field], [400, 'body.after'], bad.body);
    const docs = (await t.request({ url: '/docs/json' })).json();
    const op = docs.paths['/v1/admin/dead-letters/redrive'].post;
    assert.ok(['limit', 'after', 'until'].every((field) => field in op.requestBody.content['application/json'].schema.properties), JSON.stringify(op.requestBody));
    assert.match(op.summary, /at most `limit`/);
  });

  /** An app of its own over a transport whose first redelivery waits for `open()`; the others go at once. */
  const gatedApp = async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    let reached!: () => void;
    const atGate = new Promise<void>((resolve) => (reached = resolve));
    const sent: string[] = [];
    const { transport } = t.platform.deps;
    const gated: Transport = {
      ...transport,
      redeliver: async (subscription, m) => {
        sent.push(m.id);
        if (sent.length === 1) {
          reached();
          await gate;
        }
        return transport.redeliver(subscription, m);
      },
    };
    const app = await buildApp({ bodyLimit: 1 << 20, logger: false, metrics: new client.Registry(), readiness: async () => ({ ok: true, checks: {} }), tokens: t.platform.deps.tokens, deadLetters: { pool, transport: gated } });
    return { app, open, atGate, sent };
  };

  test('a client that goes away (a proxy\'s timeout) stops the run after the letter in flight: the rest stay parked, for the next run', async () => {
    const { sub } = await parked(5);
    const { app, open, atGate, sent } = await gatedApp();
    try {
      const base = await app.listen({ host: '127.0.0.1', port: 0 });
      const request = http.request(`${base}/v1/admin/dead-letters/redrive`, { method: 'POST', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' } });
      request.on('error', () => undefined); // destroyed below
      request.end(JSON.stringify({ subscription: sub }));
      await within(atGate, 15_000, 'the first letter in flight');
      request.destroy();
      // The server has seen the connection go.
      const connections = () => new Promise<number>((resolve, reject) => app.server.getConnections((error, n) => (error ? reject(error) : resolve(n))));
      await waitFor('the connection closed on the server', async () => (await connections()) === 0);
      open();
      await waitFor('the letter in flight went back', async () => (await parkedOf(sub)).length === 4);
      await sleep(500);
      // Before, it went on through every letter (5 sent, none left).
      assert.equal(sent.length, 1, 'no letter sent after the client went');
      assert.equal((await parkedOf(sub)).length, 4);
    } finally {
      open();
      await app.close();
    }
  });

  test('a server that shuts down stops the run after the letter in flight and answers what went back and how many are left', async () => {
    const { sub } = await parked(5);
    const { app, open, atGate, sent } = await gatedApp();
    let closed: Promise<void> | undefined;
    try {
      const answer = app.inject({ method: 'POST', url: '/v1/admin/dead-letters/redrive', headers: { authorization: `Bearer ${admin}` }, payload: { subscription: sub } });
      await within(atGate, 15_000, 'the first letter in flight');
      closed = app.close();
      open();
      const res = await answer;
      assert.equal(res.statusCode, 200, res.body);
      // Before, it went through all 5 (and with the platform's pools closed under it, a 500).
      assert.deepEqual([res.json().redriven, res.json().left, sent.length], [1, 4, 1], res.body);
      assert.ok(res.json().next !== null);
      assert.equal((await parkedOf(sub)).length, 4);
    } finally {
      open();
      await (closed ?? app.close());
    }
  });
});
