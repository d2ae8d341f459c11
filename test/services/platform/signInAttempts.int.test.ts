import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { workersOf } from '../../../src/cli/runUntilSignal.ts';
import { SERVICES } from '../../../src/composition/services.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { waitFor } from '../../platform/messaging/support.ts';
import { holdTable } from '../ordering/support.ts';

const PASSWORD = 'correct horse battery staple';

/**
 * What the failed sign-ins of an address leave behind (decision 0007, forty-seventh session): the
 * erasure of the address's customer deletes them, they are keyed with the server secret, and the
 * expired ones go on a timer without waiting for another sign-in. Found by the erasure review
 * (.scratch/findings-erasure.md, finding 3).
 */
describe('sign-in attempt rows: erasure, a keyed hash, and pruning by time (decision 0007)', () => {
  let t: TestPlatform;
  let owner: pg.Pool;
  before(async () => {
    t = await startTestPlatform();
    owner = new pg.Pool({ connectionString: t.db.url, max: 3 });
  });
  after(async () => {
    await owner?.end();
    await t?.close();
  });

  const newEmail = () => `ana-${randomUUID()}@example.com`;
  const signUp = async (email = newEmail()) => {
    const res = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Ana', email, address: 'Rua 2', password: PASSWORD } });
    assert.equal(res.statusCode, 201, res.body);
    return { id: res.json().id as string, token: res.json().token as string, email };
  };
  const signIn = (email: string, password: string, on: TestPlatform = t) => on.request({ method: 'POST', url: '/v1/customers/sign-in', payload: { email, password } });
  /** Fails `n` sign-ins of `email` (every other one upper-cased): the ids of the attempt rows they left. */
  const fail = async (email: string, n: number): Promise<string[]> => {
    const before = await lastId();
    for (let i = 1; i <= n; i += 1) {
      const res = await signIn(i % 2 === 0 ? email.toUpperCase() : email, `wrong password ${i}`);
      assert.deepEqual([res.statusCode, res.json().code], [401, 'INVALID_CREDENTIALS'], res.body);
    }
    const { rows } = await owner.query<{ id: string }>('select id from platform.customer_sign_in_attempts where id > $1 order by id', [before]);
    assert.equal(rows.length, n, 'one row per failure');
    return rows.map((r) => r.id);
  };
  const lastId = async () => (await owner.query<{ id: string }>('select coalesce(max(id), 0)::text as id from platform.customer_sign_in_attempts')).rows[0]!.id;
  const left = async (ids: readonly string[]) => (await owner.query<{ n: number }>('select count(*)::int as n from platform.customer_sign_in_attempts where id = any($1::bigint[])', [ids])).rows[0]!.n;

  test("erasing a customer deletes their address's failed sign-ins; the address signed up again signs in with its password (was 429)", async () => {
    const c = await signUp();
    const mine = await fail(c.email, 5);
    const others = await fail(newEmail(), 2);
    assert.equal((await signIn(c.email, PASSWORD)).statusCode, 429, 'held by its five failures');
    // An admin's erasure: the customer's own asks for the password, which the held address refuses (decision 0007).
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/customers/${c.id}`, token: await t.token('admin', { subject: 'ops' }) })).statusCode, 204);
    assert.equal(await left(mine), 0, "the erased customer's address keeps no attempt");
    assert.equal(await left(others), 2, "another address's attempts stay");
    const again = await signUp(c.email);
    assert.notEqual(again.id, c.id);
    const res = await signIn(c.email.toUpperCase(), PASSWORD);
    assert.equal(res.statusCode, 200, res.body);
  });

  test('an erasure waits for a sign-in of the address in flight and deletes its attempt too (the interleaving forced)', async () => {
    const c = await signUp();
    // The sign-in's attempt waits to be written (the table held in share mode), its address locked; the
    // erasure then comes while it waits.
    const admin = await t.token('admin', { subject: 'ops' });
    const held = await holdTable(t.db.url, 'platform.customer_sign_in_attempts');
    let signingIn: Promise<unknown> | undefined;
    let erasing: Promise<{ statusCode: number }> | undefined;
    const before = await lastId();
    try {
      signingIn = signIn(c.email, 'a wrong password');
      await held.waiters(1);
      // An admin's: the customer's own would first wait to reserve its password check's attempt.
      erasing = t.request({ method: 'DELETE', url: `/v1/customers/${c.id}`, token: admin });
      await held.waiters(2);
    } finally {
      await held.release();
    }
    await signingIn;
    assert.equal((await erasing).statusCode, 204);
    const { rows } = await owner.query('select id from platform.customer_sign_in_attempts where id > $1', [before]);
    assert.deepEqual(rows, [], 'the attempt written while the erasure waited is gone with it');
  });

  test('attempts are keyed with the server secret: the SHA-256 of the address finds none, and a process with another BRIGADE_SECRET does not count them', async () => {
    const c = await signUp();
    const ids = await fail(c.email, 5);
    const sha256 = createHash('sha256').update(c.email.toLowerCase()).digest();
    const { rows } = await owner.query<{ n: number }>('select count(*)::int as n from platform.customer_sign_in_attempts where email_hash = $1', [sha256]);
    assert.equal(rows[0]!.n, 0, 'nobody with the address alone finds its attempts');
    assert.equal(await left(ids), 5);
    assert.equal((await signIn(c.email, PASSWORD)).statusCode, 429);
    // A rotated secret: the attempts made under the old one count for nothing (decision 0007).
    const rotated = await startTestPlatform({ BRIGADE_SECRET: 'another-secret-that-is-long-enough-for-hs256' }, { ...t.db, drop: async () => {} });
    try {
      const res = await signIn(c.email, PASSWORD, rotated);
      assert.equal(res.statusCode, 200, res.body);
    } finally {
      await rotated.close();
    }
  });

  test('platform/sign-in-attempts-retention deletes attempts older than the window without any sign-in; younger ones stay', async () => {
    const worker = workersOf(SERVICES).find((w) => `${w.service}/${w.name}` === 'platform/sign-in-attempts-retention');
    assert.ok(worker, 'workersOf(SERVICES) lists platform/sign-in-attempts-retention (brigade start and brigade worker run it)');
    const old = await fail(newEmail(), 3);
    const young = await fail(newEmail(), 2);
    await owner.query(`update platform.customer_sign_in_attempts set at = at - interval '16 minutes' where id = any($1::bigint[])`, [old]);
    const stop = new AbortController();
    const running = worker.run(t.platform.deps, stop.signal);
    try {
      await waitFor('expired attempts pruned by the worker', async () => (await left(old)) === 0);
      assert.equal(await left(young), 2, 'attempts within the window (15 minutes) stay');
    } finally {
      stop.abort();
      await running;
    }
  });
});
