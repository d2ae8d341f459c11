import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { SignJWT } from 'jose';
import pg from 'pg';
import { workersOf } from '../../../src/cli/runUntilSignal.ts';
import { SERVICE_NAMES, SERVICES } from '../../../src/composition/services.ts';
import { TOKEN_MAX_LIFETIME_SECONDS, TOKEN_TTL_SECONDS } from '../../../src/platform/auth/index.ts';
import { loadConfig } from '../../../src/platform/config/index.ts';
import { pruneTokenRevocations, TOKEN_REVOCATION_GRACE_FLOOR_MS, TOKEN_REVOCATION_RETENTION_ACTOR } from '../../../src/services/platform/operations/pruneTokenRevocations.ts';
import { startTestPlatform, TEST_SECRET, type TestPlatform } from '../../support/platform.ts';
import { waitFor } from '../../platform/messaging/support.ts';

/** TOKEN_REVOCATION_GRACE_MS for this file: two minutes, so that the worker is seen to use it (the default is an hour). */
const GRACE_S = 120;
/** The database's floor (platform migration 0038, `interval '30 days 61 seconds'`): the longest token lifetime and a minute. */
const FLOOR_S = 30 * 86_400 + 61;

/**
 * A revocation is kept until every token it refuses has expired, plus TOKEN_REVOCATION_GRACE_MS for the
 * clocks of the processes that verify tokens, and is deleted by the worker
 * `platform/token-revocation-retention` afterwards (decision 0007, forty-ninth session). Before, rows
 * were kept for ever, and nothing bounded how long a token lived once verified (a token signed by
 * `brigade token --ttl 1e300` before that was bounded never expired), so pruning would have let such a
 * token work again.
 */
describe('token revocation retention (decision 0007)', () => {
  let t: TestPlatform;
  let owner: pg.Pool;
  let rid: string;
  before(async () => {
    t = await startTestPlatform({ TOKEN_REVOCATION_GRACE_MS: String(GRACE_S * 1000) });
    owner = new pg.Pool({ connectionString: t.db.url, max: 3 });
    const admin = await t.token('admin', { subject: 'ops' });
    const restaurant = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Kept Bistro', city: 'Porto' } });
    assert.equal(restaurant.statusCode, 201, restaurant.body);
    rid = restaurant.json().id;
  });
  after(async () => {
    await owner?.end();
    await t?.close();
  });

  const now = () => Math.floor(Date.now() / 1000);
  /** A staff revocation of `subject` whose time is `ageSeconds` ago (whole seconds, as the table keeps it), written as the table's owner. */
  const revokedAgo = async (subject: string, ageSeconds: number) => {
    await owner.query(`insert into platform.token_revocations (role, subject, revoked_before, revoked_by) values ('staff', $1, to_timestamp($2), 'ops')`, [subject, now() - ageSeconds]);
  };
  const kept = async (subject: string) => (await owner.query('select 1 from platform.token_revocations where subject = $1', [subject])).rowCount === 1;
  /** A staff token of `subject` signed with the platform's secret, issued at `iat` and expiring at `exp` (`iat` omitted when null). */
  const staffToken = (subject: string, iat: number | null, exp: number) => {
    const jwt = new SignJWT({ role: 'staff', rid }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setIssuer('brigade').setSubject(subject).setExpirationTime(exp);
    return (iat === null ? jwt : jwt.setIssuedAt(iat)).sign(new TextEncoder().encode(TEST_SECRET));
  };
  const use = async (token: string) => {
    const res = await t.request({ url: `/v1/restaurants/${rid}/staff`, token });
    return res.statusCode === 200 ? { status: 200 } : { status: res.statusCode, code: res.json().code as string };
  };
  const worker = () => {
    const found = workersOf(SERVICES).find((w) => `${w.service}/${w.name}` === 'platform/token-revocation-retention');
    assert.ok(found, 'workersOf(SERVICES) lists platform/token-revocation-retention (brigade start and brigade worker run it)');
    return found;
  };
  /** Runs the worker until `done` holds (its first pass runs at once). */
  const running = async (what: string, done: () => Promise<boolean>) => {
    const stop = new AbortController();
    const run = worker().run(t.platform.deps, stop.signal);
    try {
      await waitFor(what, done);
    } finally {
      stop.abort();
      await run;
    }
  };
  const deletedMetric = async () => {
    const metric = await t.platform.deps.metrics.getSingleMetric('brigade_retention_deleted_total')?.get();
    return metric?.values.find((v) => v.labels.table === 'platform.token_revocations')?.value ?? 0;
  };

  test('the worker deletes revocations past the longest token lifetime and TOKEN_REVOCATION_GRACE_MS, keeps younger ones, and counts what it deleted', async () => {
    const [past, withinGrace, recent] = [randomUUID(), randomUUID(), randomUUID()];
    await revokedAgo(past, TOKEN_MAX_LIFETIME_SECONDS + GRACE_S + 30);
    // Past the database's floor (a minute) but inside the two minutes asked for: the setting is used.
    await revokedAgo(withinGrace, TOKEN_MAX_LIFETIME_SECONDS + GRACE_S - 30);
    await revokedAgo(recent, 3600);
    const before = await deletedMetric();
    await running('the expired revocation deleted', async () => !(await kept(past)));
    assert.ok(await kept(withinGrace), 'a revocation inside TOKEN_REVOCATION_GRACE_MS stays');
    assert.ok(await kept(recent), 'a revocation whose tokens may still be valid stays');
    assert.equal((await deletedMetric()) - before, 1, 'brigade_retention_deleted_total{table="platform.token_revocations"} counts the deleted row');
  });

  test('a revoked token never works again: its revocation stays while it can be valid, and a token that could outlive its revocation is refused', async () => {
    // The longest-lived token the platform signs (30 days), issued at its revocation's second, 40 s from
    // its expiry: the worker keeps the revocation, so the token stays refused.
    const [longest, ancient, undated] = [randomUUID(), randomUUID(), randomUUID()];
    const issued = now() - TOKEN_TTL_SECONDS.max + 40;
    await revokedAgo(longest, now() - issued);
    const longestToken = await staffToken(longest, issued, issued + TOKEN_TTL_SECONDS.max);
    assert.deepEqual(await use(longestToken), { status: 401, code: 'TOKEN_REVOKED' });
    // Revoked 40 days ago, with tokens signed before that no expiry bounded (`brigade token --ttl 1e300`
    // before it was limited to 30 days), or with no iat (the platform never signed one).
    await revokedAgo(ancient, 40 * 86_400);
    await revokedAgo(undated, 40 * 86_400);
    const ancientToken = await staffToken(ancient, now() - 40 * 86_400 - 10, now() + 365 * 86_400);
    const undatedToken = await staffToken(undated, null, now() + 3600);
    await running('the 40-day-old revocations deleted', async () => !(await kept(ancient)) && !(await kept(undated)));
    assert.ok(await kept(longest), 'kept while a token it refuses can be valid');
    assert.deepEqual(await use(longestToken), { status: 401, code: 'TOKEN_REVOKED' }, 'still refused after the pass');
    assert.deepEqual(await use(ancientToken), { status: 401, code: 'TOKEN_INVALID' }, 'a token living longer than 30 days is refused whether or not its revocation is kept');
    assert.deepEqual(await use(undatedToken), { status: 401, code: 'TOKEN_INVALID' }, 'a token without iat cannot be placed in time: refused');
  });

  test('the database refuses to delete a revocation inside the floor, whoever asks, and lets only the retention actor delete older ones', async () => {
    const [inside, outside] = [randomUUID(), randomUUID()];
    await revokedAgo(inside, FLOOR_S - 5);
    await revokedAgo(outside, FLOOR_S + 5);
    const uow = t.platform.deps.unitOfWork;
    const remove = (actor: { kind: 'system' | 'admin'; id: string }, subject: string) =>
      uow({ service: 'platform', actor }, async (tx) => (await tx.query('delete from platform.token_revocations where subject = $1', [subject])).rowCount);
    assert.equal(await remove(TOKEN_REVOCATION_RETENTION_ACTOR, inside), 0, 'not inside the floor, even asked for by name');
    assert.equal(await remove({ kind: 'admin', id: 'ops' }, outside), 0, 'an admin may not delete a revocation');
    assert.equal(await remove({ kind: 'system', id: 'token-check' }, outside), 0, 'nor the token check');
    assert.ok((await kept(inside)) && (await kept(outside)));
    assert.equal(await remove(TOKEN_REVOCATION_RETENTION_ACTOR, outside), 1, 'the retention actor deletes one past the floor');
    // A pass asked for less than the floor keeps to the floor, and the setting takes no less.
    assert.throws(() => loadConfig({ TOKEN_REVOCATION_GRACE_MS: String(TOKEN_REVOCATION_GRACE_FLOOR_MS - 1) }, { services: SERVICE_NAMES }), /TOKEN_REVOCATION_GRACE_MS/);
    assert.equal(FLOOR_S, TOKEN_MAX_LIFETIME_SECONDS + TOKEN_REVOCATION_GRACE_FLOOR_MS / 1000, "the policy's floor is the pass's least");
    await uow({ service: 'platform', actor: TOKEN_REVOCATION_RETENTION_ACTOR }, (tx) => pruneTokenRevocations(tx, { graceMs: 0, batchSize: 100 }));
    assert.ok(await kept(inside), 'a pass with no grace at all still keeps a revocation inside the floor');
  });

  test('a revocation moved forward while a pass is deleting it stays (forced: the admin holds the row while the pass runs)', async () => {
    const subject = randomUUID();
    await revokedAgo(subject, TOKEN_MAX_LIFETIME_SECONDS + GRACE_S + 30);
    const admin = await owner.connect();
    try {
      await admin.query('begin');
      await admin.query(`update platform.token_revocations set revoked_before = date_trunc('second', now()) where subject = $1`, [subject]);
      const pass = t.platform.deps.unitOfWork({ service: 'platform', actor: TOKEN_REVOCATION_RETENTION_ACTOR }, (tx) => pruneTokenRevocations(tx, { graceMs: GRACE_S * 1000, batchSize: 100 }));
      // The pass read the old, expired row and now waits for the admin's lock on it.
      await waitFor('the pass waiting on the row', async () => {
        const { rows } = await owner.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where wait_event_type = 'Lock' and query like 'delete from platform.token_revocations%'`);
        return rows[0]!.n === 1;
      });
      await admin.query('commit');
      assert.equal(await pass, 0, 'the pass deletes nothing: the row it read is no longer expired');
    } finally {
      admin.release();
    }
    assert.ok(await kept(subject), 'the revocation, moved to now, stays');
  });
});
