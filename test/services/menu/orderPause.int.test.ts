import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, mock, test } from 'node:test';
import pg from 'pg';
import { createPlatform } from '../../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../../src/composition/services.ts';
import { loadConfig } from '../../../src/platform/config/index.ts';
import { requireService } from '../../support/services.ts';
import { startTestPlatform, TEST_SECRET, type TestPlatform } from '../../support/platform.ts';
import { testEnv } from '../../support/env.ts';
import { metricValue } from '../../platform/cache/probe.ts';
import { command, courier, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../ordering/support.ts';

/** The menu document's order-taking state (decision 0094). */
interface MenuState {
  takingOrders: boolean;
  pause: { reason: string | null; until: string | null; since: string } | null;
}

const inHours = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();
const orderOf = (r: SeededRestaurant) => ({ restaurantId: r.rid, deliveryAddress: 'Rua 1, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });

/**
 * Pausing new orders (decision 0094): staff (or an admin) pause and resume; a placement at a paused
 * restaurant is refused before anything is reserved or charged, with until when and why; the menu,
 * cached or not, says so at once; a pause whose `until` has passed is over without a resume.
 */
describe('a restaurant pauses and resumes new orders', () => {
  let t: TestPlatform;
  let sql: pg.Client;
  before(async () => {
    t = await startTestPlatform();
    sql = new pg.Client({ connectionString: t.db.url });
    await sql.connect();
  });
  after(async () => {
    await sql.end();
    await t.close();
  });

  const pause = (r: SeededRestaurant, token: string, payload: Record<string, unknown>) => t.request({ method: 'PUT', url: `/v1/restaurants/${r.rid}/order-pause`, token, payload });
  const resume = (r: SeededRestaurant, token: string) => t.request({ method: 'DELETE', url: `/v1/restaurants/${r.rid}/order-pause`, token });
  const menu = async (r: SeededRestaurant, headers: Record<string, string> = {}) => t.request({ url: `/v1/restaurants/${r.rid}/menu`, headers });
  const events = async (rid: string) => Number((await sql.query<{ n: string }>('select count(*) as n from ordering.events where tenant_id = $1', [rid])).rows[0]!.n);

  test('paused: a placement is refused with 409 RESTAURANT_NOT_TAKING_ORDERS, until when and why, nothing recorded; orders placed before are still accepted; resumed: accepted', async () => {
    const r = await seedRestaurant(t, `Pause ${randomUUID().slice(0, 8)}`);
    const c = await customer(t);
    const before = await placeOrder(t, c.token, orderOf(r));
    assert.equal(before.statusCode, 201, before.body);
    const until = inHours(2);
    const paused = await pause(r, r.staff, { reason: 'Kitchen closed early', until });
    assert.equal(paused.statusCode, 200, paused.body);
    assert.equal(paused.json().takingOrders, false);
    assert.equal(paused.json().pause.reason, 'Kitchen closed early');
    assert.equal(Date.parse(paused.json().pause.until), Date.parse(until));

    const eventsBefore = await events(r.rid);
    const key = randomUUID();
    const refused = await placeOrder(t, c.token, orderOf(r), key);
    assert.equal(refused.statusCode, 409, refused.body);
    const problem = refused.json();
    assert.equal(problem.code, 'RESTAURANT_NOT_TAKING_ORDERS');
    assert.match(problem.detail, /Kitchen closed early/);
    assert.match(problem.detail, new RegExp(paused.json().pause.until.slice(0, 19)));
    assert.equal(problem.until, paused.json().pause.until);
    assert.equal(problem.reason, 'Kitchen closed early');
    assert.equal(await events(r.rid), eventsBefore, 'the refused placement recorded nothing (no order, so no charge)');

    // The order placed before the pause goes on: staff still accept it.
    const accepted = await command(t, r.staff, before.json().id, 'accept', 1);
    assert.equal(accepted.statusCode, 200, accepted.body);

    const resumed = await resume(r, r.staff);
    assert.equal(resumed.statusCode, 200, resumed.body);
    assert.deepEqual(resumed.json(), { restaurantId: r.rid, takingOrders: true, pause: null });
    // The same key, refused before, was left free.
    const placed = await placeOrder(t, c.token, orderOf(r), key);
    assert.equal(placed.statusCode, 201, placed.body);
    // Resuming again is not an error.
    assert.equal((await resume(r, r.staff)).statusCode, 200);
  });

  test('a pause without until lasts until resumed, and its refusal says so; without a reason it says none', async () => {
    const r = await seedRestaurant(t, `Open-ended ${randomUUID().slice(0, 8)}`);
    const c = await customer(t);
    const paused = await pause(r, r.staff, {});
    assert.equal(paused.statusCode, 200, paused.body);
    assert.deepEqual({ ...paused.json().pause, since: null }, { reason: null, until: null, since: null });
    const refused = await placeOrder(t, c.token, orderOf(r));
    assert.equal(refused.statusCode, 409, refused.body);
    assert.match(refused.json().detail, /until its staff resume them/);
    assert.equal(refused.json().until, null);
    assert.equal((await resume(r, r.staff)).statusCode, 200);
    assert.equal((await placeOrder(t, c.token, orderOf(r))).statusCode, 201);
  });

  /** Reads `r`'s menu until the cached document is the one served (the pause's eviction reaches this instance through the eviction bus, after its commit). */
  const cachedMenu = async (r: SeededRestaurant) => {
    let cached = await menu(r);
    for (let i = 0; i < 200 && cached.headers['x-cache'] !== 'hit-memory'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
      cached = await menu(r);
    }
    assert.equal(cached.headers['x-cache'], 'hit-memory');
    return cached;
  };
  /** Runs `body` with this process's clock (`Date.now`, all the menu route reads) `offsetMs` off the database's. */
  const withClockOff = async <T>(offsetMs: number, body: () => Promise<T>): Promise<T> => {
    const realNow = Date.now.bind(Date);
    mock.method(Date, 'now', () => realNow() + offsetMs);
    try {
      return await body();
    } finally {
      mock.restoreAll();
    }
  };

  test('once until has passed the restaurant takes orders again without a resume, and the cached menu says so, even with this process\'s clock behind the database\'s', async () => {
    const r = await seedRestaurant(t, `Reopens ${randomUUID().slice(0, 8)}`);
    const c = await customer(t);
    // A short pause, waited out for real: the cached paused document lives no longer than the time the
    // database said was left of it when it was loaded.
    const until = new Date(Date.now() + 1500).toISOString();
    assert.equal((await pause(r, r.staff, { reason: 'Short of staff', until })).statusCode, 200);
    const cached = await cachedMenu(r);
    assert.equal((cached.json() as MenuState).takingOrders, false);
    assert.equal((await placeOrder(t, c.token, orderOf(r))).statusCode, 409);

    // This process's clock 5 s behind the database's (before: the cache compared the database's until
    // with it, and served the paused document for 5 s after the restaurant had reopened).
    const ended = Date.parse(until) - Date.now() + 300;
    const reopened = await withClockOff(-5000, async () => {
      await new Promise((resolve) => setTimeout(resolve, ended));
      return menu(r, { 'if-none-match': String(cached.headers.etag) });
    });
    assert.equal(reopened.statusCode, 200, 'the paused document is not current any more');
    assert.equal(reopened.headers['x-cache'], 'miss');
    assert.deepEqual({ takingOrders: reopened.json().takingOrders, pause: reopened.json().pause }, { takingOrders: true, pause: null });
    assert.notEqual(reopened.headers.etag, cached.headers.etag);
    const placed = await placeOrder(t, c.token, orderOf(r));
    assert.equal(placed.statusCode, 201, placed.body);
  });

  test("with this process's clock ahead of the database's, a cached paused menu is served from the cache until its pause ends, and no read evicts it", async () => {
    const r = await seedRestaurant(t, `Ahead ${randomUUID().slice(0, 8)}`);
    assert.equal((await pause(r, r.staff, { reason: 'Oven repair', until: new Date(Date.now() + 8000).toISOString() })).statusCode, 200);
    const cached = await cachedMenu(r);
    const evictions = () => metricValue(t.platform.deps.metrics, 'brigade_cache_evictions_total', { origin: 'local' });
    const evictedBefore = await evictions();
    // 10 s ahead: past the pause's end by this process's clock, 8 s before it by the database's (before:
    // each read took the hit, judged the pause over, evicted the menu everywhere and loaded it again).
    const reads = await withClockOff(10_000, async () => {
      const answers = [];
      for (let i = 0; i < 5; i++) answers.push(await menu(r));
      return answers;
    });
    assert.deepEqual(
      reads.map((read) => [read.headers['x-cache'], read.headers.etag, read.json().takingOrders]),
      reads.map(() => ['hit-memory', cached.headers.etag, false]),
    );
    assert.equal(await evictions(), evictedBefore, 'no read evicted the menu');
  });

  test('a pause "for N minutes" (forMinutes) ends N minutes after the database\'s now(), whatever the clock of the client or of this process (before: the board sent an instant from the tablet\'s clock)', async () => {
    const r = await seedRestaurant(t, `For minutes ${randomUUID().slice(0, 8)}`);
    const c = await customer(t);
    const dbNow = async () => Date.parse((await sql.query<{ now: Date }>('select now()')).rows[0]!.now.toISOString());
    // This process's clock 40 min behind, then 3 h ahead of the database's: the end is the database's.
    for (const offset of [-40 * 60_000, 3 * 3_600_000]) {
      const before = await dbNow();
      const paused = await withClockOff(offset, () => pause(r, r.staff, { reason: 'Rush hour', forMinutes: 30 }));
      const after = await dbNow();
      assert.equal(paused.statusCode, 200, paused.body);
      const { until, since, reason } = paused.json().pause as { until: string; since: string; reason: string };
      assert.equal(reason, 'Rush hour');
      // One statement's now(): the end is exactly 30 min after the pause was made, to the microsecond.
      assert.equal(until.slice(19), since.slice(19), 'the same fraction of a second');
      assert.equal(Date.parse(until) - Date.parse(since), 30 * 60_000);
      assert.ok(Date.parse(until) >= before + 30 * 60_000 - 1 && Date.parse(until) <= after + 30 * 60_000 + 1, `${until}: 30 min after the database's now()`);
      const state = (await menu(r)).json() as MenuState;
      assert.deepEqual([state.takingOrders, state.pause?.until], [false, until]);
      assert.equal((await placeOrder(t, c.token, orderOf(r))).statusCode, 409);
    }
    // The longest: 7 days by the database's clock.
    const longest = await pause(r, r.staff, { forMinutes: 7 * 24 * 60 });
    assert.equal(longest.statusCode, 200, longest.body);
    assert.equal(Date.parse(longest.json().pause.until) - Date.parse(longest.json().pause.since), 7 * 24 * 3_600_000);
    assert.equal((await resume(r, r.staff)).statusCode, 200);
  });

  test('a cached menu shows a pause and a resume at once, with a new ETag each time', async () => {
    const r = await seedRestaurant(t, `Cached ${randomUUID().slice(0, 8)}`);
    await menu(r);
    const open = await menu(r);
    assert.equal(open.headers['x-cache'], 'hit-memory');
    assert.deepEqual({ takingOrders: open.json().takingOrders, pause: open.json().pause }, { takingOrders: true, pause: null });
    const until = inHours(3);
    assert.equal((await pause(r, r.staff, { reason: 'Private party', until })).statusCode, 200);
    const paused = await menu(r, { 'if-none-match': String(open.headers.etag) });
    assert.equal(paused.statusCode, 200);
    assert.notEqual(paused.headers.etag, open.headers.etag);
    const state = paused.json() as MenuState;
    assert.equal(state.takingOrders, false);
    assert.equal(state.pause?.reason, 'Private party');
    assert.equal(Date.parse(state.pause!.until!), Date.parse(until));
    assert.equal((await menu(r, { 'if-none-match': String(paused.headers.etag) })).statusCode, 304);
    assert.equal((await resume(r, r.staff)).statusCode, 200);
    const resumed = await menu(r, { 'if-none-match': String(paused.headers.etag) });
    assert.equal(resumed.statusCode, 200);
    assert.equal(resumed.json().takingOrders, true);
    assert.equal(resumed.json().version, paused.json().version + 1);
  });

  test("another restaurant's staff get 404, a customer and a courier 403, no token 401; an admin may, and is audited", async () => {
    const r = await seedRestaurant(t, `Guarded ${randomUUID().slice(0, 8)}`);
    const other = await seedRestaurant(t, `Other ${randomUUID().slice(0, 8)}`);
    const c = await customer(t);
    const k = await courier(t);
    assert.equal((await pause(r, other.staff, {})).statusCode, 404);
    assert.equal((await resume(r, other.staff)).statusCode, 404);
    assert.equal((await pause(r, c.token, {})).statusCode, 403);
    assert.equal((await resume(r, k.token)).statusCode, 403);
    assert.equal((await pause(r, k.token, {})).statusCode, 403);
    assert.equal((await t.request({ method: 'PUT', url: `/v1/restaurants/${r.rid}/order-pause`, payload: {} })).statusCode, 401);
    const admin = await t.token('admin', { subject: 'ops-pause' });
    assert.equal((await t.request({ method: 'PUT', url: `/v1/restaurants/${randomUUID()}/order-pause`, token: admin, payload: {} })).statusCode, 404);
    assert.equal((await menu(r)).json().takingOrders, true, 'nothing refused paused it');

    const paused = await pause(r, admin, { reason: 'Health inspection' });
    assert.equal(paused.statusCode, 200, paused.body);
    assert.equal((await resume(r, admin)).statusCode, 200);
    const { rows } = await sql.query<{ method: string; status: number; target: Record<string, unknown> }>(
      `select method, status, target from platform.admin_audit where actor_id = 'ops-pause' and target->'params'->>'rid' = $1 order by id`,
      [r.rid],
    );
    assert.deepEqual(rows.map((row) => [row.method, row.status]), [['PUT', 200], ['DELETE', 200]]);
    assert.equal((rows[0]!.target.pause as { reason: string }).reason, 'Health inspection');
    assert.equal(rows[1]!.target.resumed, true);
  });

  test('bad bodies get 400 and change nothing', async () => {
    const r = await seedRestaurant(t, `Bodies ${randomUUID().slice(0, 8)}`);
    const bodies: Array<[Record<string, unknown>, RegExp]> = [
      [{ until: new Date(Date.now() - 60_000).toISOString() }, /later than now/],
      [{ until: inHours(7 * 24 + 1) }, /at most 7 days/],
      [{ until: 'tonight' }, /until/],
      [{ until: '0000-01-01T00:00:00Z' }, /until/],
      [{ reason: '' }, /reason/],
      [{ reason: ' padded ' }, /reason/],
      [{ reason: 'x'.repeat(201) }, /reason/],
      [{ reason: 'Closed', colour: 'red' }, /colour/],
      [{ forMinutes: 0 }, /forMinutes/],
      [{ forMinutes: 7 * 24 * 60 + 1 }, /forMinutes/],
      [{ forMinutes: 1.5 }, /forMinutes/],
      [{ forMinutes: null }, /forMinutes/],
      [{ forMinutes: 30, until: inHours(1) }, /either until or forMinutes, not both/],
    ];
    for (const [body, words] of bodies) {
      const refused = await pause(r, r.staff, body);
      assert.equal(refused.statusCode, 400, `${JSON.stringify(body)}: ${refused.body}`);
      assert.match(refused.body, words);
    }
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/restaurants/${r.rid}/order-pause`, token: r.staff, payload: { now: true } })).statusCode, 400);
    assert.equal((await menu(r)).json().takingOrders, true);
    assert.equal((await placeOrder(t, (await customer(t)).token, orderOf(r))).statusCode, 201);
  });
});

describe('a pause shows at once on a menu cached in Redis and read on another instance', () => {
  test('instance A pauses and resumes; instance B, which had the menu cached in Redis, shows each at once', async (tc) => {
    const redis = await requireService('redis');
    if (redis.skip) return tc.skip(redis.skip);
    const a = await startTestPlatform({ REDIS_URL: testEnv.redisUrl });
    try {
      const config = loadConfig({ DATABASE_URL: a.db.url, BRIGADE_SECRET: TEST_SECRET, REDIS_URL: testEnv.redisUrl }, { services: SERVICE_NAMES });
      const b = await createPlatform(config, { url: a.db.url, embedded: null }, { logger: false });
      try {
        const r = await seedRestaurant(a, `Redis ${randomUUID().slice(0, 8)}`);
        const read = () => b.app.inject({ url: `/v1/restaurants/${r.rid}/menu` });
        await read();
        const warm = await read();
        assert.match(String(warm.headers['x-cache']), /^hit-/);
        assert.equal(warm.json().takingOrders, true);
        const paused = await a.request({ method: 'PUT', url: `/v1/restaurants/${r.rid}/order-pause`, token: r.staff, payload: { reason: 'Power cut' } });
        assert.equal(paused.statusCode, 200, paused.body);
        const shown = await read();
        assert.equal(shown.json().takingOrders, false);
        assert.equal(shown.json().pause.reason, 'Power cut');
        assert.equal((await a.request({ method: 'DELETE', url: `/v1/restaurants/${r.rid}/order-pause`, token: r.staff })).statusCode, 200);
        assert.equal((await read()).json().takingOrders, true);
      } finally {
        await b.close();
      }
    } finally {
      await a.close();
    }
  });
});
