import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { createPlatform, type Platform } from '../../../../src/composition/runtime.ts';
import { courierDispatchPort, SERVICE_NAMES } from '../../../../src/composition/services.ts';
import { loadConfig } from '../../../../src/platform/config/index.ts';
import { formatPosition, PROJECTION_CHANNEL, runProjection } from '../../../../src/platform/projections/index.ts';
import { createViewRoutes, ORDER_VIEWS } from '../../../../src/services/ordering/views/index.ts';
import { revokeTokens } from '../../../../src/services/platform/index.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../../../support/db.ts';
import { within } from '../../../support/eventually.ts';
import { TEST_SECRET } from '../../../support/platform.ts';
import { append, event, newOrder, openBoardStream, placed } from './support.ts';

describe('live-board stream (Server-Sent Events)', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let platform: Platform;
  let base: string;
  const stop = new AbortController();
  let projector: Promise<void>;
  let dedicated: TestDatabase;

  before(async () => {
    pool = database.pool(4);
    // A restaurant's database of its own; dropped after the platform's pools (clean-ups run last first).
    dedicated = await createTestDatabase();
    database.defer(() => dedicated.drop());
    const { url } = database.db;
    const config = loadConfig({ DATABASE_URL: url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '6' }, { services: SERVICE_NAMES });
    platform = await createPlatform(config, { url, embedded: null }, { services: [{ name: 'ordering', routes: createViewRoutes({ heartbeatMs: 50 }) }], logger: false });
    database.defer(() => platform.close());
    base = await platform.app.listen({ host: '127.0.0.1', port: 0 });
    projector = runProjection(pool, ORDER_VIEWS.board, { idleMs: 10, lockRetryMs: 20 }).run(stop.signal);
    database.defer(async () => {
      stop.abort();
      await projector;
    });
  });

  const open = (rid: string, token: string, headers: Record<string, string> = {}) => openBoardStream(base, rid, token, headers);

  test('pushes each board change as it is projected, with its position as the event id; heartbeats; resumes after Last-Event-ID', async () => {
    const rid = randomUUID();
    const other = randomUUID();
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    const stream = await open(rid, staff);
    assert.equal(stream.response.status, 200);
    assert.match(stream.response.headers.get('content-type') ?? '', /^text\/event-stream/);

    const o = newOrder(rid);
    const noise = newOrder(other);
    await append(pool, noise, [placed(noise)]);
    const p1 = await append(pool, o, [placed(o)]);
    await stream.until((t) => t.includes(`id: ${formatPosition(p1)}\n`));
    const p2 = await append(pool, o, [event(o, 'OrderAccepted', { etaMinutes: 15 })]);
    await stream.until((t) => t.includes(`id: ${formatPosition(p2)}\n`));
    await stream.until((t) => t.includes(': heartbeat'));
    const events = stream
      .text()
      .split('\n\n')
      .filter((block) => block.includes('event: order'))
      .map((block) => JSON.parse(block.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as { orderId: string; status: string; position: string });
    assert.deepEqual(events.map((e) => [e.orderId, e.status, e.position]), [[o.orderId, 'placed', formatPosition(p1)], [o.orderId, 'accepted', formatPosition(p2)]]);
    assert.ok(!stream.text().includes(noise.orderId), "another restaurant's orders never reach this stream");
    await stream.close();

    // Reconnect with Last-Event-ID = the first event: the missed change comes first.
    const resumed = await open(rid, staff, { 'last-event-id': formatPosition(p1) });
    await resumed.until((t) => t.includes(`id: ${formatPosition(p2)}\n`));
    assert.ok(!resumed.text().includes(`id: ${formatPosition(p1)}\nevent: order`), 'the change it had is not sent again (its start names that position)');
    await resumed.close();

    const stranger = await platform.deps.tokens.sign({ role: 'staff', restaurantId: other, subject: randomUUID() });
    const refused = await fetch(`${base}/v1/restaurants/${rid}/board/stream`, { headers: { authorization: `Bearer ${stranger}` } });
    assert.equal(refused.status, 404);
    await refused.text();
    const owner = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    const unknownParameter = await fetch(`${base}/v1/restaurants/${rid}/board/stream?after=1.2`, { headers: { authorization: `Bearer ${owner}` } });
    assert.deepEqual([unknownParameter.status, ((await unknownParameter.json()) as { field: string }).field], [400, 'querystring.after'], 'the stream takes no query parameters (it resumes by Last-Event-ID)');
  });

  test('a stream ends when its token expires, and a reconnect with it gets 401', async () => {
    const rid = randomUUID();
    const shortLived = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() }, 5);
    const stream = await open(rid, shortLived);
    assert.equal(stream.response.status, 200, 'the token is still valid when the stream opens');
    await stream.until((t) => t.includes('event: start'));
    await within(stream.ended, 20_000, 'the stream to end at the token’s expiry');
    assert.match(stream.text(), /: the token expired: sign in again, then reconnect\n/);
    const again = await fetch(`${base}/v1/restaurants/${rid}/board/stream`, { headers: { authorization: `Bearer ${shortLived}` } });
    assert.equal(again.status, 401);
    assert.equal(((await again.json()) as { code: string }).code, 'TOKEN_EXPIRED');
  });

  test("a stream ends once its token is revoked, with a comment saying so and what to do, and a colleague's stream goes on (before: it ran until the token expired)", async () => {
    const rid = randomUUID();
    const [leaving, staying] = [randomUUID(), randomUUID()];
    const revoked = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: leaving });
    const colleague = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: staying });
    const stream = await open(rid, revoked);
    const other = await open(rid, colleague);
    await stream.until((t) => t.includes(': heartbeat'));
    await other.until((t) => t.includes(': heartbeat'));
    // What POST /v1/admin/token-revocations and `brigade token revoke` run.
    await revokeTokens({ unitOfWork: platform.deps.unitOfWork, findInEveryDatabase: platform.deps.placements.findInEveryDatabase, dispatch: courierDispatchPort(platform.deps) }, 'ops', { role: 'staff', subject: leaving, reason: 'let go' });
    await within(stream.ended, 20_000, 'the stream to end at its token’s revocation');
    assert.match(stream.text(), new RegExp(`\\n: the token was revoked: This staff token \\(subject ${leaving}\\) was revoked by an admin: [^\\n]* ask an admin for a new token\\. Then reconnect with the new token\\.\\n\\n$`));
    assert.ok(!/^id$/m.test(stream.text()), 'not the reset of a move: the client keeps its last event id');
    const again = await fetch(`${base}/v1/restaurants/${rid}/board/stream`, { headers: { authorization: `Bearer ${revoked}` } });
    assert.deepEqual([again.status, ((await again.json()) as { code: string }).code], [401, 'TOKEN_REVOKED'], 'its reconnect is refused');

    // The colleague's stream goes on: a change made now reaches it.
    const o = newOrder(rid);
    const p1 = await append(pool, o, [placed(o)]);
    await other.until((t) => t.includes(`id: ${formatPosition(p1)}\n`));
    const beats = (other.text().match(/: heartbeat\n/g) ?? []).length;
    await other.until((t) => (t.match(/: heartbeat\n/g) ?? []).length >= beats + 3);
    assert.doesNotMatch(other.text(), /revoked/);
    await other.close();
  });

  test('a check of the token that fails for another reason (the database) leaves the stream open and is tried again at the next heartbeat', async () => {
    const rid = randomUUID();
    const subject = randomUUID();
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject });
    const stream = await open(rid, staff);
    await stream.until((t) => t.includes(': heartbeat'));
    const failures = async () => (await platform.deps.metrics.getSingleMetric('brigade_board_stream_token_check_failures_total')?.get())?.values[0]?.value ?? 0;
    const heartbeats = () => (stream.text().match(/: heartbeat\n/g) ?? []).length;
    const before = await failures();
    // Every check by the platform's role fails at once (permission denied) while this lasts.
    await pool.query('revoke select on platform.token_revocations from brigade_platform');
    try {
      for (let i = 0; (await failures()) < before + 3; i++) {
        if (i > 2000) throw new Error('the check never failed three times');
        await new Promise((r) => setTimeout(r, 10));
      }
      const beats = heartbeats();
      await stream.until(() => heartbeats() >= beats + 2);
      assert.doesNotMatch(stream.text(), /revoked|token/, 'the stream goes on, with nothing said of the token');
    } finally {
      await pool.query('grant select on platform.token_revocations to brigade_platform');
    }
    // Checks work again: the next one after the revocation ends the stream.
    await revokeTokens({ unitOfWork: platform.deps.unitOfWork, findInEveryDatabase: platform.deps.placements.findInEveryDatabase, dispatch: courierDispatchPort(platform.deps) }, 'ops', { role: 'staff', subject });
    await within(stream.ended, 20_000, 'the stream to end at its token’s revocation');
    assert.match(stream.text(), /\n: the token was revoked: /);
  });

  test('a check of the token that does not answer (held by a lock) is not made again beside it at the next heartbeats', async () => {
    const rid = randomUUID();
    const stream = await open(rid, await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() }));
    await stream.until((t) => t.includes(': heartbeat'));
    const heartbeats = () => (stream.text().match(/: heartbeat\n/g) ?? []).length;
    const waitingChecks = async () =>
      (await pool.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like '%platform.token_revocations%'`)).rows[0].n as number;
    const holder = await pool.connect();
    try {
      await holder.query('begin');
      await holder.query('lock table platform.token_revocations in access exclusive mode');
      for (let i = 0; (await waitingChecks()) === 0; i++) {
        if (i > 2000) throw new Error('the check never reached the lock');
        await new Promise((r) => setTimeout(r, 10));
      }
      const beats = heartbeats();
      await stream.until(() => heartbeats() >= beats + 5);
      assert.equal(await waitingChecks(), 1, 'one check in flight for the stream, however many heartbeats pass');
      await holder.query('commit');
    } finally {
      await holder.query('rollback').catch(() => undefined);
      holder.release();
    }
    const beats = heartbeats();
    await stream.until(() => heartbeats() >= beats + 2);
    assert.doesNotMatch(stream.text(), /revoked/);
    await stream.close();
  });

  test('a token that lives past 24.8 days keeps its stream open (before: the expiry timer overflowed and fired at once, and the board reconnected every 2 s)', async () => {
    const rid = randomUUID();
    const monthLong = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() }, 30 * 24 * 3600);
    const stream = await open(rid, monthLong);
    await stream.until((t) => t.includes('event: start'));
    await stream.until((t) => (t.match(/: heartbeat\n/g) ?? []).length >= 3);
    assert.doesNotMatch(stream.text(), /token expired/);
    await stream.close();
  });

  test('the start event carries its position as the id, so a client that saw no change resumes from it (before: it reconnected without Last-Event-ID and kept an order that ended in the gap)', async () => {
    const rid = randomUUID();
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    const stream = await open(rid, staff);
    await stream.until((t) => /\nid: \d+\.\d+\nevent: start\ndata: \{"position":"\d+\.\d+"\}\n\n/.test(t));
    const [, id, position] = /\nid: (\d+\.\d+)\nevent: start\ndata: \{"position":"(\d+\.\d+)"\}/.exec(stream.text()) ?? [];
    assert.equal(id, position);
    await stream.close();
    // The connection drops; the order changes meanwhile; the client resumes from the start's id and gets the change.
    const o = newOrder(rid);
    const p1 = await append(pool, o, [placed(o)]);
    const resumed = await open(rid, staff, { 'last-event-id': id as string });
    await resumed.until((t) => t.includes(`id: ${formatPosition(p1)}\n`));
    await resumed.close();
  });

  test('a Last-Event-ID past the checkpoint (a failover to a standby that lost the tail, a restore, a move to a database with lower positions) clears the id and ends, and the fresh start misses nothing (before: the stream stayed silent and skipped every change up to that id)', async () => {
    const rid = randomUUID();
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    const first = await open(rid, staff);
    await first.until((t) => t.includes('event: start'));
    const [, checkpoint] = /\nid: (\d+)\.\d+\nevent: start/.exec(first.text()) ?? [];
    await first.close();
    // An id this database never sent: its every id is at most its checkpoint (rows and checkpoint commit together).
    const unknown = `${BigInt(checkpoint!) + 1_000_000_000n}.1`;
    const stream = await open(rid, staff, { 'last-event-id': unknown });
    assert.equal(stream.response.status, 200);
    const o = newOrder(rid);
    const p1 = await append(pool, o, [placed(o)]);
    // Told to start afresh (or given the change): never silence.
    await stream.until((t) => /\nid\n\n$/.test(t) || t.includes(`id: ${formatPosition(p1)}\n`));
    await within(stream.ended, 20_000, 'the stream to end');
    assert.match(stream.text(), /\nid\n\n$/, 'its last block clears the last event id');
    assert.ok(!stream.text().includes(`id: ${unknown}`), 'it does not start from the unknown id');
    assert.ok(!stream.text().includes('event: order'), 'nothing is pushed after an id from another history');

    // The client reconnects without Last-Event-ID (the id was cleared), reads the board as far as the
    // start's position and gets the order there or on the stream; a later change comes on the stream.
    const fresh = await open(rid, staff);
    await fresh.until((t) => t.includes('event: start'));
    const [, position] = /\nevent: start\ndata: \{"position":"(\d+\.\d+)"\}/.exec(fresh.text()) ?? [];
    const board = await fetch(`${base}/v1/restaurants/${rid}/board?after=${position}`, { headers: { authorization: `Bearer ${staff}` } });
    const read = (await board.json()) as { orders: Array<{ orderId: string }> };
    const p2 = await append(pool, o, [event(o, 'OrderAccepted', { etaMinutes: 15 })]);
    await fresh.until((t) => t.includes(`id: ${formatPosition(p2)}\n`));
    // On the stream the order's row may come once, at p2: the projector can apply the placement and the
    // acceptance in one batch after the fresh start, and the row then carries only the later position.
    assert.ok(read.orders.some((r) => r.orderId === o.orderId) || fresh.text().includes(`"orderId":"${o.orderId}"`), 'the order placed before the fresh start is in its board read or its stream');
    await fresh.close();
  });

  test('HEAD is a 405 (it held an endless stream without headers); an Accept without event streams is a 406', async () => {
    const rid = randomUUID();
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    const url = `${base}/v1/restaurants/${rid}/board/stream`;
    const head = await fetch(url, { method: 'HEAD', headers: { authorization: `Bearer ${staff}` }, signal: AbortSignal.timeout(10_000) });
    assert.deepEqual([head.status, head.headers.get('allow')], [405, 'GET']);
    const json = await fetch(url, { headers: { authorization: `Bearer ${staff}`, accept: 'application/json' }, signal: AbortSignal.timeout(10_000) });
    assert.equal(json.status, 406);
    assert.match(((await json.json()) as { detail: string }).detail, /Accept: text\/event-stream/);
    for (const accept of ['text/event-stream', '*/*', 'text/*;q=0.5', 'application/json, text/event-stream;q=0.9']) {
      const ok = await open(rid, staff, { accept });
      assert.equal(ok.response.status, 200, accept);
      await ok.close();
    }
  });

  test("a stream whose listener lost its connection ends, keeping the client's last event id: it reconnects with it and misses nothing", async () => {
    const rid = randomUUID();
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    const stream = await open(rid, staff);
    const o = newOrder(rid);
    const p1 = await append(pool, o, [placed(o)]);
    await stream.until((t) => t.includes(`id: ${formatPosition(p1)}\n`));
    // The server's LISTEN connection ends (a failover, a cut): the stream would never hear a change again.
    const { rows } = await pool.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and query = $1`, [`listen ${PROJECTION_CHANNEL}`]);
    assert.equal(rows.length, 1, 'one listener connection');
    await within(stream.ended, 20_000, 'the stream to end');
    assert.ok(!/^id$/m.test(stream.text()), 'its last event id stays: nothing was missed');

    const p2 = await append(pool, o, [event(o, 'OrderAccepted', { etaMinutes: 15 })]);
    const resumed = await open(rid, staff, { 'last-event-id': formatPosition(p1) });
    await resumed.until((t) => t.includes(`id: ${formatPosition(p2)}\n`));
    // A change made now reaches it through a new listener.
    const p3 = await append(pool, o, [event(o, 'OrderReady')]);
    await resumed.until((t) => t.includes(`id: ${formatPosition(p3)}\n`));
    await resumed.close();
  });

  test('a stream whose restaurant moves while nothing changes in its old database ends at a heartbeat once the placement catalog lists the new database, clearing the last event id', async () => {
    const rid = randomUUID();
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: rid, subject: randomUUID() });
    const o = newOrder(rid);
    await append(pool, o, [placed(o)]);
    const stream = await open(rid, staff);
    await stream.until((t) => t.includes(': heartbeat'));
    // What a move records in the shared database (its copy is not what this test is about): no batch
    // of the shared database's board projector notifies the stream, only its heartbeats can notice.
    await pool.query(
      `with c as (insert into platform.cities (name) values ($2) returning id), r as (insert into platform.restaurants (id, city_id, name) select $1, id, 'Moved' from c)
       insert into platform.tenant_placements (tenant_id, database_url) values ($1, $3)`,
      [rid, `City ${rid}`, dedicated.url],
    );
    await within(stream.ended, 20_000, 'the stream to end');
    assert.match(stream.text(), /\nid\n\n$/, 'its last block clears the last event id');
  });

  test('an admin reading the stream is audited before the first byte (the stream takes its reply over, which skips the hook that audits other answers)', async () => {
    const rid = randomUUID();
    const admin = randomUUID();
    const stream = await open(rid, await platform.deps.tokens.sign({ role: 'admin', subject: admin }));
    assert.equal(stream.response.status, 200);
    await stream.until((t) => t.includes(`: board ${rid}`));
    // The first event names the position the stream continues from, for the client's `?after=` read of the board.
    await stream.until((t) => /\nevent: start\ndata: \{"position":"\d+\.\d+"\}\n\n/.test(t));
    const { rows } = await pool.query(`select method, route, status, target from platform.admin_audit where actor_id = $1`, [admin]);
    await stream.close();
    assert.deepEqual(rows.map((r) => [r.method, r.route, r.status, r.target.params.rid]), [['GET', '/v1/restaurants/:rid/board/stream', 200, rid]]);
  });

  test('a client that leaves before the stream starts leaves nothing behind (before: a heartbeat timer that kept the process alive, and a subscription, per such client)', async () => {
    const rid = randomUUID();
    const token = await platform.deps.tokens.sign({ role: 'admin', subject: randomUUID() });
    const open = async () => (await platform.deps.metrics.getSingleMetric('brigade_board_streams')!.get()).values[0]?.value ?? 0;
    for (let i = 0; (await open()) > 0; i++) {
      if (i > 500) throw new Error('the streams of earlier tests never closed');
      await new Promise((r) => setTimeout(r, 10)); // the earlier tests' streams end as their clients leave
    }
    const baseline = 0;
    // The admin audit is written before the stream starts: holding its table holds the route there.
    const holder = await pool.connect();
    try {
      await holder.query('begin');
      await holder.query('lock table platform.admin_audit in share mode');
      const abort = new AbortController();
      const request = fetch(`${base}/v1/restaurants/${rid}/board/stream`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal }).catch(() => undefined);
      for (let i = 0; ; i++) {
        const { rows } = await pool.query(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and query like 'insert into platform.admin_audit%'`);
        if (rows[0].n > 0) break;
        if (i > 1000) throw new Error('the stream never reached its audit');
        await new Promise((r) => setTimeout(r, 5));
      }
      abort.abort(); // the client leaves while the route waits
      await request;
      await new Promise((r) => setTimeout(r, 50));
      await holder.query('commit');
    } finally {
      await holder.query('rollback').catch(() => undefined);
      holder.release();
    }
    await new Promise((r) => setTimeout(r, 300)); // several heartbeats (50 ms here)
    assert.equal(await open(), baseline, 'no stream left open for a client that is gone');
  });
});
