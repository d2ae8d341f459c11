import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';

const PASSWORD = 'owner password 1';
const VISA = '4242424242424242';

describe('what a customer token alone may not do once a password is set (decisions 0007, 0090)', () => {
  let t: TestPlatform;
  before(async () => {
    t = await startTestPlatform();
  });
  after(async () => {
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
