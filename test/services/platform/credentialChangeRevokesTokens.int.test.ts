import assert from 'node:assert/strict';
import { randomBytes, randomUUID, scryptSync } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { mintToken } from '../../../src/services/platform/index.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';

const PASSWORD = 'correct horse battery staple';
const NEW_PASSWORD = 'a brand new password';

/**
 * A credential change revokes the customer's earlier tokens (decision 0007, "Fixed later: a credential
 * change revokes earlier customer tokens"): a password changed or set (`PUT /v1/customers/me/password`)
 * or removed by an admin (`DELETE /v1/customers/:id/password`) bumps `credentials_version`, and a
 * customer token carrying an older version (its `cv` claim) is refused with 401 `TOKEN_REVOKED`.
 */
describe('a credential change revokes earlier customer tokens', () => {
  let t: TestPlatform;
  let owner: pg.Pool;
  before(async () => {
    t = await startTestPlatform();
    owner = new pg.Pool({ connectionString: t.db.url, max: 2 });
  });
  after(async () => {
    await owner?.end();
    await t?.close();
  });

  const newEmail = () => `cv-${randomUUID()}@example.com`;
  const signUp = async (password?: string) => {
    const email = newEmail();
    const res = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Ana', email, address: 'Rua 2', ...(password === undefined ? {} : { password }) } });
    assert.equal(res.statusCode, 201, res.body);
    return { id: res.json().id as string, token: res.json().token as string, email };
  };
  const signIn = async (email: string, password: string) => {
    const res = await t.request({ method: 'POST', url: '/v1/customers/sign-in', payload: { email, password } });
    assert.equal(res.statusCode, 200, res.body);
    return res.json().token as string;
  };
  const setPassword = (token: string, body: Record<string, unknown>) => t.request({ method: 'PUT', url: '/v1/customers/me/password', token, payload: body });
  /** What `GET /v1/customers/me` answers the token: its status and, for an error, its code. */
  const me = async (token: string) => {
    const res = await t.request({ url: '/v1/customers/me', token });
    return res.statusCode === 200 ? { status: 200, id: res.json().id as string } : { status: res.statusCode, code: res.json().code as string, detail: res.json().detail as string };
  };
  const assertRevoked = async (token: string, what: string) => {
    const res = await me(token);
    assert.deepEqual([res.status, res.code], [401, 'TOKEN_REVOKED'], `${what}: ${JSON.stringify(res)}`);
    assert.match(res.detail!, /password was changed or reset/, what);
    assert.match(res.detail!, /sign in again/i, what);
  };
  const versionOf = async (id: string) => (await owner.query<{ v: number }>('select credentials_version as v from platform.customers where id = $1', [id])).rows[0]?.v;

  test('changing the password answers 200 with a fresh token, which works; every token given before (sign-up, sign-ins) is 401 TOKEN_REVOKED', async () => {
    const c = await signUp(PASSWORD);
    const a = await signIn(c.email, PASSWORD);
    const b = await signIn(c.email, PASSWORD);
    for (const token of [c.token, a, b]) assert.deepEqual(await me(token), { status: 200, id: c.id });
    assert.equal(await versionOf(c.id), 0);

    const changed = await setPassword(a, { password: NEW_PASSWORD, currentPassword: PASSWORD });
    assert.equal(changed.statusCode, 200, changed.body);
    assert.deepEqual(Object.keys(changed.json()), ['token']);
    assert.equal(await versionOf(c.id), 1, 'one change, one version');
    const fresh = changed.json().token as string;
    assert.deepEqual(await me(fresh), { status: 200, id: c.id }, "the caller's session goes on with the answer's token");
    await assertRevoked(a, 'the token that made the change');
    await assertRevoked(b, 'another sign-in');
    await assertRevoked(c.token, 'the sign-up token');
    // Every route, not only /me: the check runs before any (decision 0090's checkPrincipal).
    const orders = await t.request({ url: '/v1/customers/me/orders', token: b });
    assert.deepEqual([orders.statusCode, orders.json().code], [401, 'TOKEN_REVOKED'], orders.body);
    const again = await setPassword(b, { password: 'the thief would like this', currentPassword: NEW_PASSWORD });
    assert.deepEqual([again.statusCode, again.json().code], [401, 'TOKEN_REVOKED'], 'a revoked token changes nothing');

    const signedIn = await signIn(c.email, NEW_PASSWORD);
    assert.deepEqual(await me(signedIn), { status: 200, id: c.id }, 'a sign-in with the new password works');
    const changedAgain = await setPassword(fresh, { password: PASSWORD, currentPassword: NEW_PASSWORD });
    assert.equal(changedAgain.statusCode, 200, changedAgain.body);
    await assertRevoked(fresh, 'the token of the first change, after the second');
    await assertRevoked(signedIn, 'the sign-in between the changes');
    assert.deepEqual(await me(changedAgain.json().token), { status: 200, id: c.id });
  });

  test("a copy of a password-less customer's token sets a first password: the owner's 401 does not send them to a password they never had, and says how to get the account back", async () => {
    const c = await signUp();
    const taken = await setPassword(c.token, { password: 'chosen by whoever copied the token' });
    assert.equal(taken.statusCode, 200, taken.body);
    const owner = await me(c.token);
    assert.deepEqual([owner.status, owner.code], [401, 'TOKEN_REVOKED']);
    assert.match(owner.detail!, /never set a password/, owner.detail);
    assert.match(owner.detail!, new RegExp(`DELETE /v1/customers/${c.id}/password`), owner.detail);
    const admin = await t.token('admin', { subject: 'ops' });
    const revoked = await t.request({ method: 'POST', url: '/v1/admin/token-revocations', token: admin, payload: { role: 'customer', subject: c.id, reason: 'stolen' } });
    assert.equal(revoked.statusCode, 200, revoked.body);
    assert.match(revoked.json().passwordStays, new RegExp(`DELETE /v1/customers/${c.id}/password`), revoked.body);
    const staff = await t.request({ method: 'POST', url: '/v1/admin/token-revocations', token: admin, payload: { role: 'staff', subject: randomUUID() } });
    assert.equal(staff.json().passwordStays, undefined, 'only a customer has a password');
  });

  test('a refused change (wrong current password) revokes nothing', async () => {
    const c = await signUp(PASSWORD);
    const wrong = await setPassword(c.token, { password: NEW_PASSWORD, currentPassword: 'not the password' });
    assert.deepEqual([wrong.statusCode, wrong.json().code], [403, 'CURRENT_PASSWORD_MISMATCH'], wrong.body);
    assert.equal(await versionOf(c.id), 0);
    assert.deepEqual(await me(c.token), { status: 200, id: c.id });
  });

  test('setting the first password (none before) revokes the earlier tokens too, and answers a fresh token', async () => {
    const c = await signUp();
    const minted = await t.request({ method: 'POST', url: '/v1/tokens', token: await t.token('admin', { subject: 'ops' }), payload: { role: 'customer', subject: c.id } });
    assert.equal(minted.statusCode, 201, minted.body);
    const set = await setPassword(c.token, { password: PASSWORD });
    assert.equal(set.statusCode, 200, set.body);
    assert.equal(await versionOf(c.id), 1);
    await assertRevoked(c.token, 'the sign-up token that set it');
    await assertRevoked(minted.json().token, 'a token an admin minted before');
    assert.deepEqual(await me(set.json().token), { status: 200, id: c.id });
    assert.deepEqual(await me(await signIn(c.email, PASSWORD)), { status: 200, id: c.id });
  });

  test("an admin's reset (DELETE /v1/customers/:id/password) refuses every earlier token; a token minted afterwards works and sets the new password", async () => {
    const admin = await t.token('admin', { subject: 'ops' });
    const c = await signUp(PASSWORD);
    const stolen = await signIn(c.email, PASSWORD);
    const mintedBefore = (await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: { role: 'customer', subject: c.id, ttlSeconds: 30 * 24 * 3600 } })).json().token as string;
    assert.deepEqual(await me(mintedBefore), { status: 200, id: c.id });

    const cleared = await t.request({ method: 'DELETE', url: `/v1/customers/${c.id}/password`, token: admin });
    assert.equal(cleared.statusCode, 204, cleared.body);
    await assertRevoked(stolen, 'the stolen sign-in token');
    await assertRevoked(c.token, 'the sign-up token');
    await assertRevoked(mintedBefore, 'a 30-day token an admin minted before the reset');
    assert.equal(await versionOf(c.id), 1);
    const thief = await setPassword(stolen, { password: 'the thief would like this' });
    assert.deepEqual([thief.statusCode, thief.json().code], [401, 'TOKEN_REVOKED'], 'the stolen token cannot set the password the reset left open');

    const minted = await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: { role: 'customer', subject: c.id, reset: true } });
    assert.equal(minted.statusCode, 201, minted.body);
    const fresh = minted.json().token as string;
    assert.deepEqual(await me(fresh), { status: 200, id: c.id }, 'minted after the reset: carries the current version');
    // `brigade token --role customer --subject ID` and the development login mint through the same operation.
    const { unitOfWork, tokens } = t.platform.deps;
    assert.deepEqual(await me(await mintToken({ unitOfWork, tokens }, { role: 'customer', subject: c.id.toUpperCase() })), { status: 200, id: c.id }, 'as brigade token mints it');
    const set = await setPassword(fresh, { password: NEW_PASSWORD });
    assert.equal(set.statusCode, 200, set.body);
    assert.equal(await versionOf(c.id), 2);
    assert.deepEqual(await me(set.json().token), { status: 200, id: c.id });
    assert.deepEqual(await me(await signIn(c.email, NEW_PASSWORD)), { status: 200, id: c.id });
    await assertRevoked(stolen, 'still');

    // Clearing with no password set still revokes: the admin's way to end every token of a customer.
    const none = await signUp();
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/customers/${none.id}/password`, token: admin })).statusCode, 204);
    await assertRevoked(none.token, 'a customer without a password');
  });

  test('a sign-in that upgrades a hash of older parameters revokes nothing (the same password)', async () => {
    const c = await signUp();
    const salt = randomBytes(16);
    const old = `scrypt$16384$8$1$${salt.toString('base64')}$${scryptSync(PASSWORD, salt, 32, { N: 16384, r: 8, p: 1 }).toString('base64')}`;
    await owner.query('update platform.customers set password_hash = $2 where id = $1', [c.id, old]);
    const before = await signIn(c.email, PASSWORD);
    const upgrading = await signIn(c.email, PASSWORD);
    assert.match((await owner.query<{ h: string }>('select password_hash as h from platform.customers where id = $1', [c.id])).rows[0]!.h, /^scrypt\$32768\$/, 'upgraded');
    assert.equal(await versionOf(c.id), 0);
    for (const token of [c.token, before, upgrading, await signIn(c.email, PASSWORD)]) assert.deepEqual(await me(token), { status: 200, id: c.id });
  });

  test("another customer's change or reset leaves this customer's tokens alone; staff, courier and admin tokens have no version", async () => {
    const admin = await t.token('admin', { subject: 'ops' });
    const mine = await signUp(PASSWORD);
    const theirs = await signUp(PASSWORD);
    const myToken = await signIn(mine.email, PASSWORD);
    assert.equal((await setPassword(theirs.token, { password: NEW_PASSWORD, currentPassword: PASSWORD })).statusCode, 200);
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/customers/${theirs.id}/password`, token: admin })).statusCode, 204);
    for (const token of [mine.token, myToken]) assert.deepEqual(await me(token), { status: 200, id: mine.id });
    assert.equal(await versionOf(mine.id), 0);
    // A customer token of an id that never signed up (brigade token, the development login) still works.
    const ghost = randomUUID();
    const minted = await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: { role: 'customer', subject: ghost } });
    assert.equal(minted.statusCode, 201, minted.body);
    const orders = await t.request({ url: '/v1/customers/me/orders', token: minted.json().token });
    assert.equal(orders.statusCode, 200, orders.body);
  });

  test('Row-Level Security: the token check reads customers and writes none; other system actors read none', async () => {
    const c = await signUp(PASSWORD);
    const uow = t.platform.deps.unitOfWork;
    const as = (actor: { kind: 'system'; id: string }, sql: string, values: unknown[] = []) => uow({ service: 'platform', actor }, (tx) => tx.query(sql, values));
    const check = { kind: 'system', id: 'token-check' } as const;
    assert.equal((await as(check, 'select credentials_version from platform.customers where id = $1', [c.id])).rowCount, 1);
    assert.equal((await as(check, 'update platform.customers set credentials_version = 0, name = $2 where id = $1', [c.id, 'x'])).rowCount, 0, 'it writes no customer');
    assert.equal((await as(check, 'delete from platform.customers where id = $1', [c.id])).rowCount, 0);
    assert.equal((await as({ kind: 'system', id: 'customer-keys' }, 'select 1 from platform.customers where id = $1', [c.id])).rowCount, 0);
    // The check's name before it checked every token (0028), allowed beside the new one for a release by 0033, reads none since 0034.
    assert.equal((await as({ kind: 'system', id: 'customer-token-check' }, 'select 1 from platform.customers where id = $1', [c.id])).rowCount, 0);
  });
});
