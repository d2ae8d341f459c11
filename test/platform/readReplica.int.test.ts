import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type client from 'prom-client';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createReplicaReads, ReplicaNotStandbyError, type ReplicaReads, type ReplicaReadsOptions, type ReplicaRouteReason } from '../../src/platform/db/index.ts';
import { createTenantRouter } from '../../src/platform/tenancy/index.ts';
import type { UnitOfWorkContext } from '../../src/platform/db/index.ts';
import { eventually, within } from '../support/eventually.ts';
import { testEnv } from '../support/env.ts';
import { startHotStandbyPair, type HotStandbyPair } from '../support/hotStandby.ts';
import { startTestPlatform, type TestPlatform } from '../support/platform.ts';

// Read-replica routing (docs/decisions/0082) against a real hot standby. Replay on the standby is
// paused to make it lag: what a read sees then tells where it ran.
let pair: HotStandbyPair;
let t: TestPlatform;

before(async () => {
  pair = await startHotStandbyPair();
  t = await startTestPlatform(
    // A lag bound no test step reaches: these tests pause replay for as long as they need.
    { DATABASE_REPLICA_URL: pair.standbyUrl, DATABASE_REPLICA_MAX_LAG_MS: '3600000' },
    { name: 'postgres', url: pair.primaryUrl, drop: async () => undefined },
  );
});

after(async () => {
  await t?.close();
  await pair?.close();
});

const pauseReplay = async () => {
  await pair.standbyQuery('select pg_wal_replay_pause()');
  await eventually('replay paused', () => pair.standbyQuery<{ state: string }>('select pg_get_wal_replay_pause_state() as state'), (rows) => rows[0]?.state === 'paused');
};
const resumeReplay = () => pair.standbyQuery('select pg_wal_replay_resume()');
/** Waits until the standby has replayed everything the primary had written when called. */
const standbyCaughtUp = async () => {
  const [{ lsn }] = (await t.platform.databases.poolForUrl(pair.primaryUrl).query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn')).rows as [{ lsn: string }];
  await eventually('the standby catches up', () => pair.standbyQuery<{ done: boolean }>(`select pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn as done`), (rows) => rows[0]?.done === true);
};

/** `brigade_db_replica_reads_total` by `target/reason`. */
const routed = async (): Promise<Record<string, number>> => {
  const metric = (await t.platform.metrics.getSingleMetric('brigade_db_replica_reads_total')?.get()) as client.MetricObjectWithValues<client.MetricValue<string>>;
  return Object.fromEntries(metric.values.map((v) => [`${v.labels.target}/${v.labels.reason}`, v.value]));
};
const delta = (before: Record<string, number>, later: Record<string, number>) =>
  Object.fromEntries(Object.entries(later).map(([k, v]) => [k, v - (before[k] ?? 0)]).filter(([, v]) => v !== 0));

const staff = (tenantId: string, id: string, read = false): UnitOfWorkContext => ({
  service: 'platform',
  tenantId,
  actor: { kind: 'staff', id },
  ...(read ? { readOnly: true, replicaOk: true } : {}),
});

test('an actor reads its own write at once while the standby lags; others read the standby, and all see it once replayed', async () => {
  const admin = await t.token('admin', { subject: randomUUID() });
  const restaurant = (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Replica', city: 'Porto' } })).json().id as string;
  const uow = t.platform.deps.unitOfWork;
  const writer = randomUUID();
  const other = randomUUID();
  const countStaff = (actor: string) =>
    uow(staff(restaurant, actor, true), async (tx) => Number((await tx.query<{ n: string }>('select count(*) as n from platform.staff where tenant_id = $1', [restaurant])).rows[0]?.n));
  await standbyCaughtUp();

  await pauseReplay();
  try {
    const start = await routed();
    await uow(staff(restaurant, writer), (tx) => tx.query(`insert into platform.staff (tenant_id, name, email) values ($1, 'w', $2)`, [restaurant, `${randomUUID()}@example.com`]));
    assert.equal(await countStaff(writer), 1, 'the writer reads its own write (on the primary)');
    assert.equal(await countStaff(other), 0, 'another actor reads the standby, which has not replayed the write');
    // A read that may not use the standby sees the primary.
    assert.equal(await uow({ ...staff(restaurant, other), readOnly: true }, async (tx) => (await tx.query('select 1 from platform.staff where tenant_id = $1', [restaurant])).rowCount), 1);
    assert.deepEqual(delta(start, await routed()), { 'primary/own-write': 1, 'replica/fresh': 1 });

    // The restaurant list (no actor) is a standby read too: a restaurant made now is not in it yet.
    const later = (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Later', city: 'Porto' } })).json().id as string;
    const listed = (await t.request({ method: 'GET', url: '/v1/restaurants?city=Porto' })).json().restaurants.map((r: { id: string }) => r.id) as string[];
    assert.ok(listed.includes(restaurant) && !listed.includes(later), 'the list came from the lagging standby');
    // The admin who made it, listing with their token, sees it: the public read follows its caller's writes.
    const own = (await t.request({ method: 'GET', url: '/v1/restaurants?city=Porto', token: admin })).json().restaurants.map((r: { id: string }) => r.id) as string[];
    assert.ok(own.includes(later), 'the caller reads its own write');
  } finally {
    await resumeReplay();
  }
  await eventually('the standby replays the write', () => countStaff(other), (n) => n === 1);
  const start = await routed();
  assert.equal(await countStaff(writer), 1);
  assert.deepEqual(delta(start, await routed()), { 'replica/fresh': 1 }, 'once replayed, the writer reads the standby too');
});

// Found by the review of the new routes (forty-eighth session, finding 2): a staff member's change of
// the pick-up address runs as the directory (decision 0040), and its write was noted for that actor, so
// their next read went to the lagging standby and showed the old address.
test("a staff member reads their own change of the pick-up address back at once, though it runs as the directory", async () => {
  const admin = await t.token('admin', { subject: randomUUID() });
  const city = `Braga ${randomUUID().slice(0, 8)}`;
  const rid = (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Moving Kitchen', city, pickupAddress: 'Old 1' } })).json().id as string;
  const staff = await t.token('staff', { restaurantId: rid, subject: randomUUID() });
  await standbyCaughtUp();
  await pauseReplay();
  try {
    const changed = await t.request({ method: 'PATCH', url: `/v1/restaurants/${rid}`, token: staff, headers: { 'if-match': '"1"' }, payload: { pickupAddress: 'New 2' } });
    assert.deepEqual([changed.statusCode, changed.json().pickupAddress], [200, 'New 2'], changed.body);
    const one = await t.request({ url: `/v1/restaurants/${rid}`, token: staff });
    assert.deepEqual([one.statusCode, one.json().pickupAddress, one.headers.etag], [200, 'New 2', '"2"'], 'the staff member reads their write (on the primary)');
    const listed = (await t.request({ url: `/v1/restaurants?city=${encodeURIComponent(city)}`, token: staff })).json().restaurants as Array<{ pickupAddress: string }>;
    assert.deepEqual(listed.map((r) => r.pickupAddress), ['New 2']);
    // Anyone else reads the standby, which has not replayed it: the write was noted for its caller only.
    assert.equal((await t.request({ url: `/v1/restaurants/${rid}` })).json().pickupAddress, 'Old 1', 'an anonymous read came from the lagging standby');
  } finally {
    await resumeReplay();
  }
});

/**
 * A routing of its own on the pair (every read takes a new reading), and what it routed and reported.
 * The standby's answer may take 30 s (a new pool's first connection on a loaded machine) unless a step
 * sets a shorter bound for a standby that must not answer.
 */
const routing = () => {
  const routes: string[] = [];
  const troubles: unknown[] = [];
  const primary = t.platform.databases.poolForUrl(pair.primaryUrl);
  const replica = t.platform.databases.poolForUrl(pair.standbyUrl);
  const reads = (options: Partial<ReplicaReadsOptions> = {}) =>
    createReplicaReads({
      primary,
      replica,
      statusTtlMs: 0,
      statusTimeoutMs: 30_000,
      onRoute: (target, reason: ReplicaRouteReason) => routes.push(`${target}/${reason}`),
      onTrouble: (error) => troubles.push(error),
      ...options,
    });
  const write = () => primary.query('create table if not exists public.lag_probe (n int); insert into public.lag_probe values (1)');
  return { routes, troubles, primary, replica, reads, write };
};

test('a full primary pool sends the read to the primary as busy, and does not leave a healthy standby alone', async () => {
  const { routes, troubles, reads } = routing();
  await standbyCaughtUp();
  // The primary's pool of one connection, held, with an acquire timeout: reading its WAL position fails.
  const full = new pg.Pool({ connectionString: pair.primaryUrl, max: 1, connectionTimeoutMillis: 300 });
  let held: pg.PoolClient | null = await full.connect();
  try {
    // Not about the lag: a bound no step reaches.
    const crowded = reads({ primary: full, maxLagMs: 3_600_000 });
    assert.equal(await crowded.poolFor('staff:nobody'), full);
    assert.equal(await crowded.poolFor('staff:nobody'), full);
    assert.deepEqual([routes, troubles.length], [['primary/busy', 'primary/busy'], 0], 'busy, and no trouble reported against the standby');
    held.release();
    held = null;
    assert.equal(await crowded.poolFor('staff:nobody'), t.platform.databases.poolForUrl(pair.standbyUrl), 'the standby at once once the primary answers');
  } finally {
    held?.release();
    await full.end();
  }
});

test('a standby further behind than the bound is not taken as fresh on a first reading, nor after a quiet spell', async () => {
  const { routes, reads, write } = routing();
  /** Where `routing` sends a read now. */
  const route = async (via: ReplicaReads) => {
    await via.poolFor('staff:nobody');
    return routes.at(-1);
  };
  // Level with the primary (once a record the primary may write on its own is replayed too): fresh.
  const fresh = (what: string, via: () => ReplicaReads) => eventually(what, () => route(via()), (where) => where === 'replica/fresh', 30_000);
  await write();
  await standbyCaughtUp();
  const quiet = reads({ maxLagMs: 1000 });
  await fresh('the standby level with the primary, fresh', () => quiet);
  await pauseReplay();
  try {
    await write();
    // Not a measurement: the standby is made to miss a write for longer than the bound.
    await sleep(1500);
    // Both read the standby's position for the first time since the write: the first reading of a new
    // routing (a restart), and one after a quiet spell in which the standby was last seen current.
    assert.deepEqual([await route(reads({ maxLagMs: 1000 })), await route(quiet)], ['primary/lag', 'primary/lag']);
  } finally {
    await resumeReplay();
  }
  await standbyCaughtUp();
  await fresh('the old routing to find the standby fresh again once it replayed the write', () => quiet);
  await fresh('a new routing to find it fresh', () => reads({ maxLagMs: 1000 }));
});

test('a replica that is not a standby of the primary (of another cluster, or another database) is refused, naming DATABASE_REPLICA_URL', async () => {
  const { routes, troubles, reads } = routing();
  await standbyCaughtUp();
  // Another cluster: the test server's maintenance database stands for the primary of this standby.
  const elsewhere = new pg.Pool({ connectionString: testEnv.adminUrl, max: 2 });
  const otherDatabase = new URL(pair.standbyUrl);
  otherDatabase.pathname = '/template1';
  const template = new pg.Pool({ connectionString: otherDatabase.toString(), max: 2 });
  try {
    await reads({ primary: elsewhere }).poolFor('staff:nobody');
    await reads({ replica: template }).poolFor('staff:nobody');
    assert.deepEqual(routes, ['primary/down', 'primary/down']);
    const messages = troubles.map((e) => (e instanceof ReplicaNotStandbyError ? e.message : String(e)));
    assert.equal(messages.length, 2);
    assert.match(messages[0]!, /^DATABASE_REPLICA_URL names a standby of another cluster .*must name a hot standby of DATABASE_URL/);
    assert.match(messages[1]!, /^DATABASE_REPLICA_URL names database "template1" where DATABASE_URL names "postgres".*must name a hot standby of DATABASE_URL/);
  } finally {
    await Promise.all([elsewhere.end(), template.end()]);
  }
});

test('where the role may not run pg_control_system(), the database name is still checked and a true standby used', async () => {
  const { routes, troubles, reads } = routing();
  const admin = t.platform.databases.poolForUrl(pair.primaryUrl);
  const as = (url: string, database = 'postgres') => {
    const u = new URL(url);
    u.username = 'replica_probe';
    u.password = 'replica-probe';
    u.pathname = `/${database}`;
    return new pg.Pool({ connectionString: u.toString(), max: 2 });
  };
  await admin.query(`create role replica_probe login password 'replica-probe'`);
  await admin.query('revoke execute on function pg_control_system() from public');
  await standbyCaughtUp();
  const primary = as(pair.primaryUrl);
  const replica = as(pair.standbyUrl);
  const template = as(pair.standbyUrl, 'template1');
  try {
    await assert.rejects(primary.query('select pg_control_system()'), { code: '42501' });
    // Not about the lag: a bound no step reaches.
    await reads({ primary, replica, maxLagMs: 3_600_000 }).poolFor('staff:nobody');
    await reads({ primary, replica: template, maxLagMs: 3_600_000 }).poolFor('staff:nobody');
    assert.deepEqual(routes, ['replica/fresh', 'primary/down']);
    assert.match(String(troubles[0]), /DATABASE_REPLICA_URL names database "template1"/);
  } finally {
    await Promise.all([primary.end(), replica.end(), template.end()]);
    await admin.query('grant execute on function pg_control_system() to public');
    await admin.query('drop role replica_probe');
  }
});

test('a standby that lags past the bound, is cut off from its primary, hangs or is down sends reads to the primary', async () => {
  const { routes, troubles, primary, replica, reads, write } = routing();

  // Replay paused: what the primary wrote is not replayed, so the standby is behind by the time since.
  await pauseReplay();
  try {
    await write();
    assert.equal(await reads({ maxLagMs: 0 }).poolFor('staff:nobody'), primary);
    assert.deepEqual(routes, ['primary/lag']);
  } finally {
    await resumeReplay();
  }

  // Cut off (its WAL receiver stopped): it has replayed all it received, and is still behind the primary.
  const [{ primary_conninfo: conninfo }] = (await pair.standbyQuery<{ primary_conninfo: string }>('show primary_conninfo')) as [{ primary_conninfo: string }];
  const setConninfo = async (value: string) => {
    await pair.standbyQuery(`alter system set primary_conninfo = '${value.replaceAll("'", "''")}'`);
    await pair.standbyQuery('select pg_reload_conf()');
  };
  // Cut off level with the primary: a record the primary wrote on its own meanwhile (a running-xacts
  // snapshot, a checkpoint) leaves it behind from the start, and then it is not current; cut it off again.
  for (let attempt = 1; ; attempt++) {
    await standbyCaughtUp();
    await setConninfo('');
    await eventually('the WAL receiver stops', () => pair.standbyQuery<{ n: number }>('select count(*)::int as n from pg_stat_wal_receiver'), (rows) => rows[0]?.n === 0, 30_000);
    const [{ lsn }] = (await primary.query<{ lsn: string }>('select pg_current_wal_insert_lsn()::text as lsn')).rows as [{ lsn: string }];
    const [{ level }] = (await pair.standbyQuery<{ level: boolean }>(`select pg_last_wal_replay_lsn() >= '${lsn}'::pg_lsn as level`)) as [{ level: boolean }];
    if (level) break;
    await setConninfo(conninfo);
    assert.ok(attempt < 5, 'the primary kept writing while the standby was cut off');
  }
  try {
    const cutOff = reads({ maxLagMs: 200 });
    routes.length = 0;
    assert.equal(await cutOff.poolFor('staff:nobody'), replica, 'current until the primary writes');
    await write();
    await eventually('the cut-off standby counts as lagging', () => cutOff.poolFor('staff:nobody'), (pool) => pool === primary, 20_000);
    assert.equal(routes.at(-1), 'primary/lag');
  } finally {
    await setConninfo(conninfo);
  }
  await standbyCaughtUp();

  // A standby that accepts connections and never answers: down after the status timeout, not after the kernel's.
  const sockets: net.Socket[] = [];
  const silent = net.createServer((socket) => void sockets.push(socket));
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  // No connect timeout of its own: only the routing's status timeout can end the wait.
  const hung = new pg.Pool({ connectionString: `postgres://x@127.0.0.1:${(silent.address() as net.AddressInfo).port}/x`, max: 1 });
  hung.on('error', () => undefined);
  try {
    routes.length = 0;
    troubles.length = 0;
    assert.equal(await within(reads({ replica: hung, statusTimeoutMs: 200 }).poolFor('staff:nobody'), 10_000, 'the routing to give up on a silent standby'), primary);
    assert.deepEqual([routes, troubles.length], [['primary/down'], 1]);
  } finally {
    for (const socket of sockets) socket.destroy();
    silent.close();
    await hung.end().catch(() => undefined);
  }

  // Every connection of the replica pool in use: this read goes to the primary, and the standby is not
  // left alone for it (the next read may use it).
  const small = new pg.Pool({ connectionString: pair.standbyUrl, max: 1 });
  const held = await small.connect();
  try {
    routes.length = 0;
    troubles.length = 0;
    const crowded = reads({ replica: small, statusTimeoutMs: 2000 });
    assert.equal(await crowded.poolFor('staff:nobody'), primary);
    held.release();
    assert.equal(await crowded.poolFor('staff:nobody'), small);
    assert.deepEqual([routes, troubles.length], [['primary/busy', 'replica/fresh'], 0]);
  } finally {
    await small.end();
  }

  // A standby read that fails when the standby goes away runs again on the primary and answers. The
  // routing's reading is kept warm (an hour), so the read is sent to the standby and fails there.
  const warm = reads({ statusTtlMs: 3_600_000 });
  assert.equal(await warm.poolFor('staff:nobody'), replica);
  const router = createTenantRouter({ databases: t.platform.databases, replicaReads: warm });
  await pair.stopStandby();
  routes.length = 0;
  troubles.length = 0;
  const one = await router.unitOfWork({ service: 'platform', readOnly: true, replicaOk: true }, async (tx) => (await tx.query<{ n: number }>('select 1 as n')).rows[0]?.n);
  assert.deepEqual([one, routes, troubles.length], [1, ['replica/fresh'], 1], 'tried on the standby, answered by the primary, the standby reported');
  routes.length = 0;
  assert.equal(await warm.poolFor('staff:nobody'), primary);
  assert.deepEqual(routes, ['primary/down'], 'then left alone for the cooldown');

  // Through the platform: the restaurant list still answers, from the primary.
  const admin = await t.token('admin', { subject: randomUUID() });
  const made = (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'After', city: 'Porto' } })).json().id as string;
  const listed = (await t.request({ method: 'GET', url: '/v1/restaurants?city=Porto' })).json().restaurants.map((r: { id: string }) => r.id) as string[];
  assert.ok(listed.includes(made));
});
