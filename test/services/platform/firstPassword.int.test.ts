import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, SignJWT } from 'jose';
import { mintToken } from '../../../src/services/platform/index.ts';
import { startTestPlatform, TEST_SECRET, type TestPlatform } from '../../support/platform.ts';

const PASSWORD = 'correct horse battery staple';

/**
 * The first password needs something a copy of the token lacks (decision 0007, forty-ninth session,
 * "the first password needs something the copy lacks"): a customer without a password sets one with no
 * `currentPassword` only with the token sign-up answered, within 10 minutes of its issue, or with a
 * reset token an admin minted (`POST /v1/tokens` with `reset: true`). Any other token gets 403
 * `FIRST_PASSWORD_NEEDS_RESET_TOKEN`.
 */
describe('the first password needs the sign-up token (10 minutes) or an admin reset token', () => {
  let t: TestPlatform;
  let admin: string;
  before(async () => {
    t = await startTestPlatform();
    admin = await t.token('admin', { subject: 'ops' });
  });
  after(async () => {
    await t?.close();
  });

  const signUp = async (password?: string) => {
    const email = `fp-${randomUUID()}@example.com`;
    const res = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Ana', email, address: 'Rua 2', ...(password === undefined ? {} : { password }) } });
    assert.equal(res.statusCode, 201, res.body);
    return { id: res.json().id as string, token: res.json().token as string, email };
  };
  const setPassword = (token: string, body: Record<string, unknown>) => t.request({ method: 'PUT', url: '/v1/customers/me/password', token, payload: body });
  const signIn = (email: string, password: string) => t.request({ method: 'POST', url: '/v1/customers/sign-in', payload: { email, password } });
  /** The same claims as `token`, issued `secondsAgo` earlier (and expiring as much earlier), signed with the test secret. */
  const issuedEarlier = async (token: string, secondsAgo: number) => {
    const { iat, exp, iss, sub, ...claims } = decodeJwt(token);
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(iss!)
      .setSubject(sub!)
      .setIssuedAt(iat! - secondsAgo)
      .setExpirationTime(exp! - secondsAgo)
      .sign(new TextEncoder().encode(TEST_SECRET));
  };
  const assertRefused = (res: Awaited<ReturnType<typeof setPassword>>, what: string) => {
    assert.deepEqual([res.statusCode, res.json().code], [403, 'FIRST_PASSWORD_NEEDS_RESET_TOKEN'], `${what}: ${res.body}`);
    assert.match(res.json().detail, /ask support/i, what);
    assert.match(res.json().detail, /reset/, what);
  };

  test('a copy of a sign-up token older than 10 minutes sets no first password (403), and nothing is set; one of 9 minutes still does', async () => {
    const c = await signUp();
    const old = await issuedEarlier(c.token, 11 * 60);
    assert.equal((await t.request({ url: '/v1/customers/me', token: old })).statusCode, 200, 'the copy is a valid token otherwise');
    assertRefused(await setPassword(old, { password: 'chosen by whoever copied the token' }), 'an 11-minute-old sign-up token');
    assertRefused(await setPassword(old, { password: 'chosen by whoever copied the token', currentPassword: 'anything' }), 'currentPassword does not stand in for it');
    assert.equal((await signIn(c.email, 'chosen by whoever copied the token')).statusCode, 401, 'no password was set');
    assert.equal((await t.request({ url: '/v1/customers/me', token: c.token })).statusCode, 200, "the owner's session is not revoked");
    const younger = await setPassword(await issuedEarlier(c.token, 9 * 60), { password: PASSWORD });
    assert.equal(younger.statusCode, 200, younger.body);
  });

  test('the fresh sign-up token sets the first password; the token it answers is an ordinary one', async () => {
    const c = await signUp();
    assert.deepEqual(decodeJwt(c.token).amr, ['signup']);
    const set = await setPassword(c.token, { password: PASSWORD });
    assert.equal(set.statusCode, 200, set.body);
    assert.equal(decodeJwt(set.json().token).amr, undefined);
    assert.equal((await signIn(c.email, PASSWORD)).statusCode, 200);
  });

  test('an admin reset token (POST /v1/tokens with reset: true, after DELETE …/password) sets the first password; a token minted without reset does not', async () => {
    const c = await signUp(PASSWORD);
    assert.equal((await t.request({ method: 'DELETE', url: `/v1/customers/${c.id}/password`, token: admin })).statusCode, 204);
    const plain = await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: { role: 'customer', subject: c.id } });
    assert.equal(plain.statusCode, 201, plain.body);
    assertRefused(await setPassword(plain.json().token, { password: 'a fresh password' }), 'a customer token minted without reset');
    const { unitOfWork, tokens } = t.platform.deps;
    assertRefused(await setPassword(await mintToken({ unitOfWork, tokens }, { role: 'customer', subject: c.id }), { password: 'a fresh password' }), 'as brigade token mints it without --reset');
    assertRefused(await setPassword(await tokens.sign({ role: 'customer', subject: c.id, credentialsVersion: 1 }), { password: 'a fresh password' }), 'a token of the current version with no amr');

    const reset = await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: { role: 'customer', subject: c.id, reset: true } });
    assert.equal(reset.statusCode, 201, reset.body);
    assert.deepEqual(decodeJwt(reset.json().token).amr, ['reset']);
    const set = await setPassword(reset.json().token, { password: 'a fresh password' });
    assert.equal(set.statusCode, 200, set.body);
    assert.equal((await signIn(c.email, 'a fresh password')).statusCode, 200);
    // As brigade token --reset mints it.
    assert.deepEqual(decodeJwt(await mintToken({ unitOfWork, tokens }, { role: 'customer', subject: c.id, reset: true })).amr, ['reset']);
  });

  test('reset is only for a customer token naming its customer (400 otherwise)', async () => {
    for (const payload of [{ role: 'admin', subject: 'ops2', reset: true }, { role: 'courier', subject: randomUUID(), reset: true }, { role: 'customer', reset: true }]) {
      const res = await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload });
      assert.deepEqual([res.statusCode, res.json().field], [400, 'body.reset'], `${JSON.stringify(payload)}: ${res.body}`);
    }
  });

  test('a password-less customer cannot sign in, so no sign-in token of theirs exists: sign-in answers the one 401', async () => {
    const c = await signUp();
    const res = await signIn(c.email, 'any password at all');
    assert.deepEqual([res.statusCode, res.json().code], [401, 'INVALID_CREDENTIALS']);
  });

  test('a customer who has a password changes it with currentPassword from any token, as before', async () => {
    const c = await signUp(PASSWORD);
    const old = await issuedEarlier(c.token, 60 * 60);
    const changed = await setPassword(old, { password: 'another password', currentPassword: PASSWORD });
    assert.equal(changed.statusCode, 200, changed.body);
  });
});
