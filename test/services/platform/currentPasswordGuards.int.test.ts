import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';

const PASSWORD = 'owner password 1';
const VISA = '4242424242424242';

describe('what a customer token alone may not do once a password is set (decisions 0007, 0090)', () => {
  let t: TestPlatform;
  let owner: pg.Pool;
  before(async () => {
    t = await startTestPlatform();
    owner = new pg.Pool({ connectionString: t.db.url, max: 1 });
  });
  after(async () => {
    await owner?.end();
    await t?.close();
  });

  const signUp = async (password?: string) => {
    const email = `ana-${randomUUID()}@example.com`;
    const res = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Ana', email, address: 'Rua 1', ...(password === undefined ? {} : { password }) } });
    assert.equal(res.statusCode, 201, res.body);
    return { id: res.json().id as string, token: res.json().token as string, email };
  };
  const erase = (token: string, body?: object) => t.request({ method: 'DELETE', url: '/v1/customers/me', token, ...(body === undefined ? {} : { payload: body }) });
  const putCard = (token: string, extra: object = {}) => t.request({ method: 'PUT', url: '/v1/customers/me/payment-method', token, payload: { cardNumber: VISA, ...extra } });
  const signIn = (email: string, password: string) => t.request({ method: 'POST', url: '/v1/customers/sign-in', payload: { email, password } });
  const codeOf = (res: { statusCode: number; json(): unknown }) => [res.statusCode, (res.json() as { code?: string } | null)?.code];

  test('a customer with a password: erasing themselves needs currentPassword (403 without it or with a wrong one, nothing erased), then 204', async () => {
    const c = await signUp(PASSWORD);
    const without = await erase(c.token);
    assert.deepEqual(codeOf(without), [403, 'CURRENT_PASSWORD_MISMATCH'], without.body);
    assert.match(without.json().detail, /currentPassword/);
    assert.match(without.json().detail, /erase/);
    const wrong = await erase(c.token, { currentPassword: 'not the password' });
    assert.deepEqual(codeOf(wrong), [403, 'CURRENT_PASSWORD_MISMATCH'], wrong.body);
    assert.equal((await signIn(c.email, PASSWORD)).statusCode, 200, 'still there: the owner signs in');
    const right = await erase(c.token, { currentPassword: PASSWORD });
    assert.equal(right.statusCode, 204, right.body);
    assert.equal((await signIn(c.email, PASSWORD)).statusCode, 401, 'erased');
  });

  test('a customer with a password: replacing the card on file needs currentPassword too', async () => {
    const c = await signUp(PASSWORD);
    const without = await putCard(c.token);
    assert.deepEqual(codeOf(without), [403, 'CURRENT_PASSWORD_MISMATCH'], without.body);
    assert.match(without.json().detail, /card/);
    assert.deepEqual(codeOf(await putCard(c.token, { currentPassword: 'not the password' })), [403, 'CURRENT_PASSWORD_MISMATCH']);
    assert.equal((await t.request({ url: '/v1/customers/me/payment-method', token: c.token })).statusCode, 404, 'no card was put');
    const right = await putCard(c.token, { currentPassword: PASSWORD });
    assert.equal(right.statusCode, 200, right.body);
    assert.equal(right.json().cardLast4, '4242');
  });

  test('a customer without a password keeps the token-only card and erasure (a currentPassword sent along is not looked at)', async () => {
    const c = await signUp();
    assert.equal((await putCard(c.token)).statusCode, 200);
    assert.equal((await putCard(c.token, { currentPassword: 'anything at all' })).statusCode, 200);
    const erased = await erase(c.token);
    assert.equal(erased.statusCode, 204, erased.body);
  });

  test('wrong current passwords are limited: the sixth try is 429 with Retry-After, the right password included', async () => {
    const c = await signUp(PASSWORD);
    for (let i = 0; i < 5; i += 1) {
      const res = i % 2 === 0 ? await erase(c.token, { currentPassword: `wrong ${i}` }) : await putCard(c.token, { currentPassword: `wrong ${i}` });
      assert.equal(res.statusCode, 403, res.body);
    }
    const held = await erase(c.token, { currentPassword: PASSWORD });
    assert.deepEqual(codeOf(held), [429, 'TOO_MANY_ATTEMPTS'], held.body);
    assert.ok(held.headers['retry-after'] !== undefined);
    assert.equal((await putCard(c.token, { currentPassword: PASSWORD })).statusCode, 429);
  });

  test('five wrong passwords at the anonymous sign-in hold the address, not the owner: with their token and the right password they still change it, put a card on file and erase', async () => {
    const c = await signUp(PASSWORD);
    for (let i = 0; i < 5; i += 1) assert.equal((await signIn(c.email, `a guess ${i}`)).statusCode, 401);
    assert.equal((await signIn(c.email, PASSWORD)).statusCode, 429, 'the address is held');
    const changed = await t.request({ method: 'PUT', url: '/v1/customers/me/password', token: c.token, payload: { password: 'owner password 2', currentPassword: PASSWORD } });
    assert.equal(changed.statusCode, 200, changed.body);
    const token = changed.json().token as string;
    assert.equal((await putCard(token, { currentPassword: 'owner password 2' })).statusCode, 200);
    assert.equal((await erase(token, { currentPassword: 'owner password 2' })).statusCode, 204);
  });

  test("a token holder's wrong current passwords hold only that customer's own check: the 429 says so, and the address still signs in", async () => {
    const c = await signUp(PASSWORD);
    for (let i = 0; i < 5; i += 1) {
      const res = await t.request({ method: 'PUT', url: '/v1/customers/me/password', token: c.token, payload: { password: 'thief password', currentPassword: `guess ${i}` } });
      assert.equal(res.statusCode, 403, res.body);
    }
    const held = await t.request({ method: 'PUT', url: '/v1/customers/me/password', token: c.token, payload: { password: 'thief password', currentPassword: PASSWORD } });
    assert.deepEqual(codeOf(held), [429, 'TOO_MANY_ATTEMPTS'], held.body);
    assert.match(held.json().detail, /current password/);
    assert.doesNotMatch(held.json().detail, /sign-ins for this e-mail/);
    const other = await signUp(PASSWORD);
    assert.equal((await putCard(other.token, { currentPassword: PASSWORD })).statusCode, 200, "another customer's check is not held");
    assert.equal((await signIn(c.email, PASSWORD)).statusCode, 200, 'the owner signs in: the anonymous bucket of the address is not touched');
  });

  test("the erasure deletes the customer's wrong current passwords with their address's failed sign-ins", async () => {
    const c = await signUp(PASSWORD);
    const before = (await owner.query<{ id: string }>('select coalesce(max(id), 0)::text as id from platform.customer_sign_in_attempts')).rows[0]!.id;
    assert.equal((await putCard(c.token, { currentPassword: 'wrong 1' })).statusCode, 403);
    assert.equal((await signIn(c.email, 'wrong 2')).statusCode, 401);
    const mine = async () => (await owner.query<{ n: number }>('select count(*)::int as n from platform.customer_sign_in_attempts where id > $1', [before])).rows[0]!.n;
    assert.equal(await mine(), 2, 'one row in each bucket');
    assert.equal((await erase(c.token, { currentPassword: PASSWORD })).statusCode, 204);
    assert.equal(await mine(), 0);
  });

  test("an admin's erasure of a customer with a password is unchanged: no password asked", async () => {
    const c = await signUp(PASSWORD);
    const admin = await t.token('admin', { subject: 'ops' });
    const res = await t.request({ method: 'DELETE', url: `/v1/customers/${c.id}`, token: admin });
    assert.equal(res.statusCode, 204, res.body);
  });

  test('the erasure still takes no other field', async () => {
    const c = await signUp();
    const res = await erase(c.token, { password: PASSWORD });
    assert.deepEqual([res.statusCode, res.json().field], [400, 'body.password'], res.body);
  });
});
