import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { createPlatform } from '../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../src/composition/services.ts';
import { loadConfig } from '../../src/platform/config/index.ts';
import { startTestPlatform, TEST_SECRET, type TestPlatform } from '../support/platform.ts';

type Headers = LightMyRequestResponse['headers'];

/** An answer no browser may keep, sniffed as nothing but its declared type, with its request id. */
function assertPrivate(headers: Headers, what: string): void {
  assert.equal(headers['x-content-type-options'], 'nosniff', `${what}: nosniff`);
  assert.equal(headers['cache-control'], 'no-store', `${what}: no-store`);
  assert.match(String(headers['x-request-id'] ?? ''), /./, `${what}: x-request-id`);
}

describe('response headers of the API: nosniff and a cache policy on every answer', () => {
  let t: TestPlatform;
  let admin: string;
  let rid: string;
  before(async () => {
    t = await startTestPlatform();
    admin = await t.token('admin', { subject: 'ops' });
    const restaurant = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Headers', city: 'Lisbon', currency: 'EUR' } });
    assert.equal(restaurant.statusCode, 201, restaurant.body);
    rid = restaurant.json().id as string;
    const staff = await t.token('staff', { restaurantId: rid });
    const category = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/categories`, token: staff, payload: { name: 'Pizza', position: 1 } });
    assert.equal(category.statusCode, 201, category.body);
  });
  after(async () => {
    await t?.close();
  });

  test('answers carrying a token, and answers to authenticated requests, are no-store', async () => {
    const minted = await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: { role: 'admin' } });
    assert.equal(minted.statusCode, 201, minted.body);
    assertPrivate(minted.headers, 'POST /v1/tokens');

    const signUp = await t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Ana', email: `ana-${randomUUID()}@example.com`, address: 'Rua 1' } });
    assert.equal(signUp.statusCode, 201, signUp.body);
    assert.equal(typeof signUp.json().token, 'string');
    assertPrivate(signUp.headers, 'POST /v1/customers (unauthenticated, a token in the body)');

    const orders = await t.request({ url: '/v1/customers/me/orders', token: signUp.json().token as string });
    assert.equal(orders.statusCode, 200, orders.body);
    assertPrivate(orders.headers, 'GET /v1/customers/me/orders');

    // The order's ETag still travels (for If-Match); the browser keeps no copy of it.
    const order = await t.request({ url: `/v1/orders/${randomUUID()}`, token: signUp.json().token as string });
    assert.equal(order.statusCode, 404, order.body);
    assertPrivate(order.headers, 'GET /v1/orders/:id (404)');
  });

  test('error answers carry them too: problem+json, 404 for an unknown route, 405, 401, a URL that does not decode', async () => {
    const cases: Array<[string, LightMyRequestResponse, number]> = [
      ['unknown route', await t.request({ url: '/v1/no-such-thing' }), 404],
      ['405', await t.request({ url: '/v1/tokens' }), 405],
      ['400 validation', await t.request({ method: 'POST', url: '/v1/tokens', token: admin, payload: { role: 'chef' } }), 400],
      ['401 bad token', await t.request({ url: '/v1/customers/me/orders', token: 'not-a-token' }), 401],
      ['403', await t.request({ url: '/v1/customers/me/orders', token: admin }), 403],
      ['URL that does not decode', await t.request({ url: '/v1/restaurants/%E0%A4%A' }), 400],
    ];
    for (const [what, res, status] of cases) {
      assert.equal(res.statusCode, status, `${what}: ${res.body}`);
      assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
      assertPrivate(res.headers, what);
    }
  });

  test('the menu keeps its revalidation: no-cache (its own policy, also with a token), ETag, 304 on If-None-Match', async () => {
    const customer = await t.token('customer', { subject: randomUUID() });
    for (const token of [undefined, customer]) {
      const who = token === undefined ? 'anonymous' : 'with a token';
      const menu = await t.request({ url: `/v1/restaurants/${rid}/menu`, ...(token === undefined ? {} : { token }) });
      assert.equal(menu.statusCode, 200, menu.body);
      assert.equal(menu.headers['cache-control'], 'no-cache', who);
      assert.equal(menu.headers['x-content-type-options'], 'nosniff', who);
      const etag = String(menu.headers.etag);
      assert.match(etag, /^"menu-\d+"$/);
      const again = await t.request({ url: `/v1/restaurants/${rid}/menu`, headers: { 'if-none-match': etag }, ...(token === undefined ? {} : { token }) });
      assert.equal(again.statusCode, 304, who);
      assert.equal(again.headers.etag, etag, who);
      assert.equal(again.headers['cache-control'], 'no-cache', `${who}: a 304 repeats the policy`);
      assert.equal(again.headers['x-content-type-options'], 'nosniff', who);
    }
    // A restaurant that does not exist is an error like any other.
    const missing = await t.request({ url: `/v1/restaurants/${randomUUID()}/menu` });
    assert.equal(missing.statusCode, 404);
    assertPrivate(missing.headers, 'menu 404');
  });

  test('the menu without the cache (CACHE_TTL_SECONDS=0) answers the same', async () => {
    const config = loadConfig({ DATABASE_URL: t.db.url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '2', CACHE_TTL_SECONDS: '0' }, { services: SERVICE_NAMES });
    const uncached = await createPlatform(config, { url: t.db.url, embedded: null }, { logger: false });
    try {
      const menu = await uncached.app.inject({ url: `/v1/restaurants/${rid}/menu` });
      assert.equal(menu.statusCode, 200, menu.body);
      assert.equal(menu.headers['x-cache'], 'off');
      assert.equal(menu.headers['cache-control'], 'no-cache');
      assert.equal(menu.headers['x-content-type-options'], 'nosniff');
      const again = await uncached.app.inject({ url: `/v1/restaurants/${rid}/menu`, headers: { 'if-none-match': String(menu.headers.etag) } });
      assert.deepEqual([again.statusCode, again.headers['cache-control']], [304, 'no-cache']);
    } finally {
      await uncached.close();
    }
  });

  test("the board's stream (a hijacked reply) sends nosniff, no-store and the request id", async () => {
    const base = await t.platform.app.listen({ host: '127.0.0.1', port: 0 });
    const staff = await t.token('staff', { restaurantId: rid, subject: randomUUID() });
    const abort = new AbortController();
    const stream = await fetch(`${base}/v1/restaurants/${rid}/board/stream`, { headers: { authorization: `Bearer ${staff}`, 'x-request-id': 'trace-stream-1' }, signal: abort.signal });
    try {
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
      assert.equal(stream.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(stream.headers.get('cache-control'), 'no-store');
      assert.equal(stream.headers.get('x-request-id'), 'trace-stream-1');
    } finally {
      abort.abort();
      await stream.body?.cancel().catch(() => undefined);
    }
    // Its refusals are ordinary answers.
    const refused = await fetch(`${base}/v1/restaurants/${rid}/board/stream`, { headers: { authorization: `Bearer ${staff}`, accept: 'application/json' } });
    assert.equal(refused.status, 406);
    await refused.text();
    assert.equal(refused.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(refused.headers.get('cache-control'), 'no-store');
  });
});
