import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type client from 'prom-client';
import { createReplicaReads, type ReplicaRouteReason } from '../../src/platform/db/index.ts';
import type { UnitOfWorkContext } from '../../src/platform/db/index.ts';
import { eventually } from '../support/eventually.ts';
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
  } finally {
    await resumeReplay();
  }
  await eventually('the standby replays the write', () => countStaff(other), (n) => n === 1);
  const start = await routed();
  assert.equal(await countStaff(writer), 1);
  assert.deepEqual(delta(start, await routed()), { 'replica/fresh': 1 }, 'once replayed, the writer reads the standby too');
});

test('a standby that lags past the bound, or is down, sends reads to the primary', async () => {
  const routes: string[] = [];
  const troubles: unknown[] = [];
  const primary = t.platform.databases.poolForUrl(pair.primaryUrl);
  const replica = t.platform.databases.poolForUrl(pair.standbyUrl);
  const reads = createReplicaReads({
    primary,
    replica,
    maxLagMs: 0,
    statusTtlMs: 0,
    onRoute: (target, reason: ReplicaRouteReason) => routes.push(`${target}/${reason}`),
    onTrouble: (error) => troubles.push(error),
  });
  await pauseReplay();
  try {
    // WAL the standby receives and does not replay: behind, by the time since its last replayed commit.
    await primary.query('create table if not exists public.lag_probe (n int); insert into public.lag_probe values (1)');
    await eventually('the standby received WAL it has not replayed', () => pair.standbyQuery<{ behind: boolean }>('select pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn() as behind'), (rows) => rows[0]?.behind === true);
    assert.equal(await reads.poolFor('staff:nobody'), primary);
    assert.deepEqual(routes, ['primary/lag']);
  } finally {
    await resumeReplay();
  }

  await pair.stopStandby();
  routes.length = 0;
  assert.equal(await reads.poolFor('staff:nobody'), primary);
  assert.deepEqual(routes, ['primary/down']);
  assert.equal(troubles.length, 1, 'the unreachable standby is reported');

  // Through the platform: a standby read that cannot connect runs on the primary, and answers.
  const admin = await t.token('admin', { subject: randomUUID() });
  const made = (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'After', city: 'Porto' } })).json().id as string;
  const listed = (await t.request({ method: 'GET', url: '/v1/restaurants?city=Porto' })).json().restaurants.map((r: { id: string }) => r.id) as string[];
  assert.ok(listed.includes(made));
});
