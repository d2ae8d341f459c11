import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { cardsOnFile } from '../../../src/services/platform/index.ts';
import { luhnValid } from '../../../src/services/platform/operations/setPaymentMethod.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';

const VISA = '4242424242424242';
const MASTERCARD = '5555555555554444';

describe('the card on file (PUT/GET/DELETE /v1/customers/me/payment-method)', () => {
  let t: TestPlatform;
  before(async () => {
    t = await startTestPlatform();
  });
  after(async () => {
    await t?.close();
  });

  const signUp = async () => {
    const res = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Rui', email: `rui-${randomUUID()}@example.com`, address: 'Rua 1' } });
    assert.equal(res.statusCode, 201, res.body);
    return { id: res.json().id as string, token: res.json().token as string };
  };
  const put = (token: string | undefined, cardNumber: unknown) => t.request({ method: 'PUT', url: '/v1/customers/me/payment-method', ...(token === undefined ? {} : { token }), payload: { cardNumber } });
  const get = (token: string) => t.request({ url: '/v1/customers/me/payment-method', token });

  test('set, read back (last four digits only), replace, remove', async () => {
    const c = await signUp();
    assert.equal((await get(c.token)).statusCode, 404, 'none set yet');
    const set = await put(c.token, '4242 4242 4242 4242');
    assert.equal(set.statusCode, 200, set.body);
    assert.equal(set.json().cardLast4, '4242');
    assert.ok(!set.body.includes(VISA), 'the number is never answered');
    assert.deepEqual(Object.keys((await get(c.token)).json()).sort(), ['cardLast4', 'updatedAt']);
    assert.equal((await put(c.token, MASTERCARD)).json().cardLast4, '4444');
    assert.equal((await get(c.token)).json().cardLast4, '4444');
    assert.equal(await cardsOnFile(t.platform.deps.unitOfWork).cardOf(c.id), MASTERCARD, "the payments saga's port reads the number");
    const removed = await t.request({ method: 'DELETE', url: '/v1/customers/me/payment-method', token: c.token });
    assert.equal(removed.statusCode, 204);
    assert.equal((await get(c.token)).statusCode, 404);
    assert.equal((await t.request({ method: 'DELETE', url: '/v1/customers/me/payment-method', token: c.token })).statusCode, 404);
    assert.equal(await cardsOnFile(t.platform.deps.unitOfWork).cardOf(c.id), null);
  });

  test('DELETE takes no fields: a body with one is a 400 naming it and the card stays; none, an empty one or {} removes it', async () => {
    const c = await signUp();
    const del = (body: object) => t.request({ method: 'DELETE', url: '/v1/customers/me/payment-method', token: c.token, ...body });
    assert.equal((await put(c.token, VISA)).statusCode, 200);
    // Before, any JSON body was taken and ignored: the card went.
    const withField = await del({ payload: { cardNumber: VISA } });
    assert.deepEqual([withField.statusCode, withField.json().field], [400, 'body.cardNumber'], withField.body);
    assert.equal((await get(c.token)).statusCode, 200, 'the card stays');
    for (const body of [{}, { headers: { 'content-type': 'application/json' }, payload: '' }, { payload: {} }]) {
      assert.equal((await put(c.token, VISA)).statusCode, 200);
      const removed = await del(body);
      assert.equal(removed.statusCode, 204, `${JSON.stringify(body)}: ${removed.body}`);
    }
  });

  test('bad numbers get 400 naming the field; other roles 403; no token 401; a customer not signed up 404', async () => {
    const c = await signUp();
    for (const bad of ['4242424242424241', '4242-4242-abcd-4242', '1234567890', '4'.repeat(20), '0000000000000', '0000 0000 0000 0000']) {
      const res = await put(c.token, bad);
      assert.equal(res.statusCode, 400, `${bad}: ${res.body}`);
    }
    const wrongCheckDigit = await put(c.token, '4242424242424241');
    assert.equal(wrongCheckDigit.json().field, 'body.cardNumber');
    assert.equal((await put(undefined, VISA)).statusCode, 401);
    assert.equal((await put(await t.token('admin', { subject: 'ops' }), VISA)).statusCode, 403);
    assert.equal((await put(await t.token('courier', { subject: randomUUID() }), VISA)).statusCode, 403);
    const ghost = await put(await t.token('customer', { subject: randomUUID() }), VISA);
    assert.deepEqual([ghost.statusCode, ghost.json().code], [404, 'NOT_FOUND']);
  });

  test('Row-Level Security: a customer sees only their own card, an admin none; only a system actor reads numbers', async () => {
    const a = await signUp();
    const b = await signUp();
    assert.equal((await put(a.token, VISA)).statusCode, 200);
    const uow = t.platform.deps.unitOfWork;
    const read = (actor: { kind: 'customer' | 'admin' | 'staff'; id: string }) =>
      uow({ service: 'platform', actor, readOnly: true }, (tx) => tx.query('select customer_id from platform.customer_payment_methods where customer_id = $1', [a.id]));
    assert.equal((await read({ kind: 'customer', id: b.id })).rowCount, 0);
    assert.equal((await read({ kind: 'customer', id: a.id })).rowCount, 1);
    assert.equal((await read({ kind: 'admin', id: 'ops' })).rowCount, 0);
    assert.equal((await read({ kind: 'staff', id: randomUUID() })).rowCount, 0);
    await assert.rejects(
      uow({ service: 'platform', actor: { kind: 'customer', id: b.id } }, (tx) =>
        tx.query('insert into platform.customer_payment_methods (customer_id, card_number) values ($1, $2)', [a.id, MASTERCARD]),
      ),
      /row-level security/,
      "nobody writes another customer's card",
    );
    await assert.rejects(
      uow({ service: 'platform', actor: { kind: 'system', id: 'payments-saga' } }, (tx) => tx.query('update platform.customer_payment_methods set card_number = $2 where customer_id = $1 returning 1', [a.id, MASTERCARD]).then((r) => {
        if (r.rowCount === 0) throw new Error('row-level security: no row to update');
      })),
      /row-level security/,
      'the payments saga reads, never writes',
    );
    assert.equal(await cardsOnFile(uow).cardOf(a.id), VISA);
  });

  test('the Luhn check', () => {
    for (const good of [VISA, MASTERCARD, '4000000000000002', '378282246310005']) assert.equal(luhnValid(good), true, good);
    for (const bad of ['4242424242424241', '5555555555554443', '1234567812345678']) assert.equal(luhnValid(bad), false, bad);
  });
});
