import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { Type } from 'typebox';
import type { FastifyPluginAsync } from 'fastify';
import pg from 'pg';
import { absentBodyIsEmpty, NoFields } from '../../src/api/index.ts';
import { createPlatform, type Platform } from '../../src/composition/runtime.ts';
import { SERVICES, SERVICE_NAMES } from '../../src/composition/services.ts';
import { loadConfig } from '../../src/platform/config/index.ts';
import { BatchAbortedError } from '../../src/platform/db/index.ts';
import { ConcurrencyError } from '../../src/platform/errors/index.ts';
import { createTestDatabase, useTestDatabase, type TestDatabase } from '../support/db.ts';
import { overlapUnderLock } from '../support/overlapUnderLock.ts';

// A service of the test's own, to exercise the shared plumbing through real routes.
const probeRoutes: FastifyPluginAsync = async (app) => {
  app.post(
    '/probe/echo',
    { schema: { body: Type.Object({ name: Type.String({ minLength: 1 }), count: Type.Integer({ minimum: 1 }) }, { additionalProperties: false }) } },
    async (request) => request.body,
  );
  app.get(
    '/probe/item/:id',
    { schema: { params: Type.Object({ id: Type.String({ format: 'uuid' }) }), querystring: Type.Object({ limit: Type.Optional(Type.Integer()), q: Type.Optional(Type.String()) }) } },
    async (request) => ({ params: request.params, query: request.query }),
  );
  app.post(
    '/probe/ids',
    {
      schema: {
        security: [{ bearer: [] }],
        querystring: Type.Object({ of: Type.Optional(Type.String({ format: 'uuid' })) }),
        body: Type.Object(
          {
            id: Type.String({ format: 'uuid' }),
            maybe: Type.Union([Type.String({ format: 'uuid' }), Type.Null()]),
            lines: Type.Array(Type.Object({ itemId: Type.String({ format: 'uuid' }), note: Type.Optional(Type.String()) }, { additionalProperties: false })),
            label: Type.String(),
          },
          { additionalProperties: false },
        ),
      },
    },
    async (request) => ({ body: request.body, query: request.query }),
  );
  // As a command without fields is declared (ordering's cancel, say).
  app.post('/probe/nothing', { schema: { body: NoFields }, preValidation: absentBodyIsEmpty }, async (request) => ({ body: request.body }));
  app.get('/probe/boom', async () => {
    throw new Error('secret internal detail');
  });
  app.get('/probe/conflict', async () => {
    throw new ConcurrencyError(3, 4);
  });
  // PostgreSQL's answer to the victim of a deadlock, and a statement of its batch that did not run after a serialization failure.
  const sqlState = (code: string) => Object.assign(new pg.DatabaseError('could not go on (test)', 0, 'error'), { code });
  app.get('/probe/deadlock', async () => {
    throw sqlState('40P01');
  });
  app.get('/probe/serialization', async () => {
    throw new BatchAbortedError(1, sqlState('40001'));
  });
};

describe('HTTP shell', () => {
  const database = useTestDatabase();
  let platform: Platform;
  before(async () => {
    const { url } = database.db;
    const config = loadConfig({ DATABASE_URL: url, HTTP_BODY_LIMIT: '4096' }, { services: SERVICE_NAMES });
    platform = await createPlatform(config, { url, embedded: null }, { logger: false, services: [...SERVICES, { name: 'probe', routes: probeRoutes }] });
    database.defer(() => platform.close());
  });

  test('/health/live and /health/ready', async () => {
    assert.deepEqual((await platform.app.inject({ url: '/health/live' })).json(), { ok: true });
    const ready = await platform.app.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { ok: true, checks: { database: { ok: true }, migrations: { ok: true } } });
  });

  test('errors are problem+json with a stable code and the request id', async () => {
    const notFound = await platform.app.inject({ url: '/v1/nothing-here', headers: { 'x-request-id': 'req-123' } });
    assert.equal(notFound.statusCode, 404);
    assert.match(String(notFound.headers['content-type']), /^application\/problem\+json/);
    assert.equal(notFound.headers['x-request-id'], 'req-123');
    assert.deepEqual(
      { ...(notFound.json() as object), detail: undefined },
      { type: 'https://brigade.dev/problems/route-not-found', title: 'Not Found', status: 404, code: 'ROUTE_NOT_FOUND', detail: undefined, instance: '/v1/nothing-here', requestId: 'req-123' },
    );

    // A path that exists, with a method it does not take: 405 naming the ones it does, not a 404.
    const wrongMethod = await platform.app.inject({ method: 'PUT', url: '/v1/probe/item/0190c1b2-7a3e-7000-8000-00000000abcd?limit=1' });
    assert.deepEqual([wrongMethod.statusCode, wrongMethod.json().code, wrongMethod.headers.allow, wrongMethod.json().allow], [405, 'METHOD_NOT_ALLOWED', 'GET, HEAD', ['GET', 'HEAD']], wrongMethod.body);
    assert.match(String(wrongMethod.headers['content-type']), /^application\/problem\+json/);
    assert.equal((await platform.app.inject({ method: 'DELETE', url: '/v1/orders/0190c1b2-7a3e-7000-8000-00000000abcd' })).statusCode, 405, 'a route of a service');
    for (const method of ['GET', 'POST'] as const) assert.equal((await platform.app.inject({ method, url: '/v1/nothing-here/at-all' })).statusCode, 404, `${method} of a path no route has`);

    const conflict = await platform.app.inject({ url: '/v1/probe/conflict' });
    assert.equal(conflict.statusCode, 412);
    assert.equal(conflict.json().code, 'CONCURRENCY_CONFLICT');
    assert.deepEqual([conflict.json().expected, conflict.json().actual], [3, 4], 'versions as numbers (they were strings)');
    assert.equal(conflict.headers.etag, undefined, 'no current version in its details: no ETag');

    // A deadlock or a serialization failure rolled the work back: 503 with Retry-After, send it again (before: 500 INTERNAL).
    for (const url of ['/v1/probe/deadlock', '/v1/probe/serialization']) {
      const collided = await platform.app.inject({ url });
      assert.deepEqual([collided.statusCode, collided.json().code, collided.headers['retry-after']], [503, 'TRANSACTION_CONFLICT', '1'], `${url}: ${collided.body}`);
      assert.match(collided.json().detail, /nothing was written: send the same request again/);
    }

    const boom = await platform.app.inject({ url: '/v1/probe/boom' });
    assert.equal(boom.statusCode, 500);
    assert.equal(boom.json().code, 'INTERNAL');
    assert.doesNotMatch(boom.body, /secret internal detail/);
    assert.match(boom.json().detail, new RegExp(String(boom.headers['x-request-id'])));
  });

  test('bad input gets 400 naming the field; malformed JSON 400; oversized body 413', async () => {
    const missing = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', payload: { name: 'x' } });
    assert.equal(missing.statusCode, 400);
    assert.equal(missing.json().code, 'VALIDATION_FAILED');
    assert.equal(missing.json().field, 'body.count');

    const wrongType = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', payload: { name: 'x', count: 0 } });
    assert.equal(wrongType.json().field, 'body.count');

    const ok = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', payload: { name: 'x', count: 2 } });
    assert.deepEqual(ok.json(), { name: 'x', count: 2 });

    const malformed = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'application/json' }, payload: '{"name": ' });
    assert.equal(malformed.statusCode, 400);
    assert.equal(malformed.json().code, 'MALFORMED_JSON');

    // A JSON body is taken as sent: before, null, true and "2" were converted (a price of null became 0).
    for (const count of [null, true, '2']) {
      const converted = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', payload: { name: 'x', count } });
      assert.deepEqual([converted.statusCode, converted.json().field], [400, 'body.count'], `count ${JSON.stringify(count)}: ${converted.body}`);
    }
    const named = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', payload: { name: 5, count: 1 } });
    assert.deepEqual([named.statusCode, named.json().field], [400, 'body.name']);
    // Query strings and path parameters arrive as text and are still converted.
    const id = '0190c1b2-7a3e-7000-8000-00000000abcd';
    const query = await platform.app.inject({ url: `/v1/probe/item/${id.toUpperCase()}?limit=20` });
    assert.deepEqual(query.json(), { params: { id }, query: { limit: 20 } }, 'and a UUID in the path is taken in lower case');
    // A UUID is its canonical text (either case): the urn form reached PostgreSQL and failed there (500).
    const urn = await platform.app.inject({ url: `/v1/probe/item/urn:uuid:${id}` });
    assert.deepEqual([urn.statusCode, urn.json().field], [400, 'params.id'], urn.body);
    // U+0000, which no PostgreSQL text holds, is refused anywhere in the request, naming where (before: 500).
    const nulBody = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', payload: { name: 'a\u0000b', count: 1 } });
    assert.deepEqual([nulBody.statusCode, nulBody.json().code, nulBody.json().field], [400, 'VALIDATION_FAILED', 'body.name'], nulBody.body);
    const nulQuery = await platform.app.inject({ url: `/v1/probe/item/${id}?q=a%00b` });
    assert.deepEqual([nulQuery.statusCode, nulQuery.json().field], [400, 'querystring.q'], nulQuery.body);
    const nulPath = await platform.app.inject({ url: '/v1/restaurants?city=Po%00rto' });
    assert.deepEqual([nulPath.statusCode, nulPath.json().field], [400, 'querystring.city'], nulPath.body);

    const big = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', payload: { name: 'x'.repeat(10_000), count: 1 } });
    assert.equal(big.statusCode, 413);
    assert.equal(big.json().code, 'PAYLOAD_TOO_LARGE');
    assert.match(String(big.headers['content-type']), /^application\/problem\+json/);
    // The limit (HTTP_BODY_LIMIT), in the words and as a number: the 413 did not say how large a body may be.
    assert.equal(big.json().limit, 4096, big.body);
    assert.equal(big.json().detail, 'The request body is larger than this server accepts: at most 4096 bytes; send a smaller one.');
  });

  // Found by a review of the contracts: these said `must match pattern "^[^@\\s\\x00-…"` (the regular
  // expression), as names did before they got words.
  test('a value refused by its pattern is told what to send in words, not the regular expression: an e-mail address, a position, a reason', async () => {
    const admin = await platform.deps.tokens.sign({ role: 'admin', subject: 'ops' });
    const bearer = { authorization: `Bearer ${admin}` };
    const order = '0190c1b2-7a3e-7000-8000-00000000abcd';
    const cases = [
      { method: 'POST', url: '/v1/customers', payload: { name: 'Ana', email: 'not-an-email', address: 'Rua 1' }, field: 'body.email', says: /^body\.email must be an e-mail address such as ana@example\.com/ },
      { method: 'POST', url: '/v1/customers/sign-in', payload: { email: 'ana @example.com', password: 'x' }, field: 'body.email', says: /^body\.email must be an e-mail address/ },
      { method: 'GET', url: `/v1/restaurants/${order}/board?after=abc`, headers: bearer, field: 'querystring.after', says: /^querystring\.after must be the `position` a write answered, unchanged .*e\.g\. 7342\.1051/ },
      { method: 'POST', url: `/v1/orders/${order}/reject`, headers: { ...bearer, 'if-match': '"1"' }, payload: { reason: '   ' }, field: 'body.reason', says: /^body\.reason must not be blank/ },
    ] as const;
    for (const c of cases) {
      const res = await platform.app.inject({ method: c.method, url: c.url, ...('headers' in c ? { headers: c.headers } : {}), ...('payload' in c ? { payload: c.payload } : {}) });
      assert.deepEqual([res.statusCode, res.json().code, res.json().field], [400, 'VALIDATION_FAILED', c.field], `${c.method} ${c.url}: ${res.body}`);
      assert.doesNotMatch(res.json().detail, /pattern|\\x00|\^\[|\\S/, res.json().detail);
      assert.match(res.json().detail, c.says, res.json().detail);
    }
  });

  test('a route that declares a bearer token answers 401 to an anonymous caller before it looks at the input, with WWW-Authenticate', async () => {
    const anonymous = await platform.app.inject({ method: 'POST', url: '/v1/probe/ids', payload: { nonsense: true } });
    assert.deepEqual([anonymous.statusCode, anonymous.json().code, anonymous.headers['www-authenticate']], [401, 'UNAUTHORIZED', 'Bearer'], anonymous.body);
    const forged = await platform.app.inject({ method: 'POST', url: '/v1/probe/ids', headers: { authorization: 'Bearer abc.def.ghi' }, payload: {} });
    assert.deepEqual([forged.statusCode, forged.headers['www-authenticate']], [401, 'Bearer error="invalid_token"'], forged.body);
    // A public route stays open to anonymous callers.
    assert.equal((await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', payload: { name: 'x', count: 1 } })).statusCode, 200);
  });

  test('the Bearer scheme is read in any case and after one or more spaces (RFC 9110 §11.1, §11.4)', async () => {
    const token = await platform.deps.tokens.sign({ role: 'admin', subject: 'ops' });
    const id = '0190c1b2-7a3e-7000-8000-00000000abcd';
    for (const authorization of [`Bearer ${token}`, `bearer ${token}`, `BEARER ${token}`, `Bearer   ${token}`]) {
      const res = await platform.app.inject({ method: 'POST', url: '/v1/probe/ids', headers: { authorization }, payload: { id, maybe: null, lines: [], label: 'x' } });
      assert.equal(res.statusCode, 200, `${authorization.slice(0, 10)}: ${res.body}`);
    }
    for (const authorization of [`Bearer${token}`, `Basic ${token}`, `Bearer ${token} extra`]) {
      const res = await platform.app.inject({ method: 'POST', url: '/v1/probe/ids', headers: { authorization }, payload: {} });
      assert.deepEqual([res.statusCode, res.json().code], [401, 'TOKEN_INVALID'], res.body);
    }
  });

  // Found by a review: Node keeps the first of two Authorization lines and drops the second, so the app
  // and a gateway in front that reads the last one saw different callers.
  test('two Authorization headers get 401 TOKEN_INVALID saying so, whichever of them is valid', async () => {
    const token = await platform.deps.tokens.sign({ role: 'admin', subject: 'ops' });
    const id = '0190c1b2-7a3e-7000-8000-00000000abcd';
    const address = await platform.app.listen({ host: '127.0.0.1', port: 0 });
    const send = (authorization: string[]) =>
      new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(`${address}/v1/probe/ids`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
          let text = '';
          res.on('data', (chunk: Buffer) => (text += chunk.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        });
        req.setHeader('authorization', authorization);
        req.on('error', reject);
        req.end(JSON.stringify({ id, maybe: null, lines: [], label: 'x' }));
      });
    for (const pair of [[`Bearer ${token}`, 'Bearer garbage'], ['Bearer garbage', `Bearer ${token}`], [`Bearer ${token}`, `Bearer ${token}`]]) {
      const res = await send(pair);
      assert.deepEqual([res.status, JSON.parse(res.body).code], [401, 'TOKEN_INVALID'], res.body);
      assert.match(JSON.parse(res.body).detail, /Authorization header was sent more than once/);
    }
    assert.equal((await send([`Bearer ${token}`])).status, 200);
  });

  test('400 names the field a body lacks or must not have, at any depth, and says what to do', async () => {
    const token = await platform.deps.tokens.sign({ role: 'admin', subject: 'ops' });
    const send = (payload: unknown) => platform.app.inject({ method: 'POST', url: '/v1/probe/ids', headers: { authorization: `Bearer ${token}` }, payload: payload as Record<string, unknown> });
    const id = '0190c1b2-7a3e-7000-8000-00000000abcd';
    const extra = await send({ id, maybe: null, lines: [], label: 'x', colour: 'red' });
    assert.deepEqual([extra.statusCode, extra.json().field], [400, 'body.colour'], extra.body);
    assert.match(extra.json().detail, /body\.colour is not a field of this request; remove it/);
    const nestedExtra = await send({ id, maybe: null, lines: [{ itemId: id, colour: 'red' }], label: 'x' });
    assert.deepEqual([nestedExtra.statusCode, nestedExtra.json().field], [400, 'body.lines.0.colour'], nestedExtra.body);
    const nestedMissing = await send({ id, maybe: null, lines: [{ note: 'x' }], label: 'x' });
    assert.deepEqual([nestedMissing.statusCode, nestedMissing.json().field], [400, 'body.lines.0.itemId'], nestedMissing.body);
    assert.match(nestedMissing.json().detail, /body\.lines\.0\.itemId is required/);
  });

  test('a value outside a choice between fixed values gets a 400 naming the values allowed', async () => {
    const token = await platform.deps.tokens.sign({ role: 'admin', subject: 'ops' });
    for (const role of ['root', 5, null]) {
      const res = await platform.app.inject({ method: 'POST', url: '/v1/tokens', headers: { authorization: `Bearer ${token}` }, payload: { role } });
      assert.deepEqual([res.statusCode, res.json().field], [400, 'body.role'], res.body);
      // Was "body.role must be equal to constant": the value of one branch, unnamed.
      assert.equal(res.json().detail, 'body.role must be one of: admin, staff, courier, customer', res.body);
    }
    // A union that is more than literals keeps the validator's message.
    const other = await platform.app.inject({ method: 'POST', url: '/v1/probe/ids', headers: { authorization: `Bearer ${token}` }, payload: { id: '0190c1b2-7a3e-7000-8000-00000000abcd', maybe: 'x', lines: [], label: 'x' } });
    assert.deepEqual([other.statusCode, other.json().field], [400, 'body.maybe'], other.body);
    assert.doesNotMatch(other.json().detail, /one of/);
  });

  test('UUIDs of a body and a query string are taken in lower case, wherever the schema declares them; other text as sent', async () => {
    const token = await platform.deps.tokens.sign({ role: 'admin', subject: 'ops' });
    const id = '0190C1B2-7A3E-7000-8000-00000000ABCD';
    const res = await platform.app.inject({
      method: 'POST',
      url: `/v1/probe/ids?of=${id}`,
      headers: { authorization: `Bearer ${token}` },
      payload: { id, maybe: id, lines: [{ itemId: id, note: id }], label: id },
    });
    const lower = id.toLowerCase();
    assert.deepEqual(res.json(), { body: { id: lower, maybe: lower, lines: [{ itemId: lower, note: id }], label: id }, query: { of: lower } }, res.body);
  });

  test('bodies: application/json only (415 otherwise); an empty JSON body is no body; a URL that cannot be decoded is a problem document', async () => {
    const empty = await platform.app.inject({ method: 'POST', url: '/v1/probe/nothing', headers: { 'content-type': 'application/json' }, payload: '' });
    assert.deepEqual([empty.statusCode, empty.json()], [200, { body: {} }], empty.body);
    const emptyRequired = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'application/json' }, payload: '' });
    assert.equal(emptyRequired.statusCode, 400, emptyRequired.body);
    const text = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'text/plain' }, payload: '{"name":"x","count":1}' });
    assert.deepEqual([text.statusCode, text.json().code], [415, 'UNSUPPORTED_MEDIA_TYPE'], text.body);
    const proto = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'application/json' }, payload: '{"name":"x","count":1,"__proto__":{"admin":true}}' });
    assert.equal(proto.statusCode, 400, proto.body);
    assert.match(String(proto.headers['content-type']), /^application\/problem\+json/);
    // Refused for its key, and said so with a code of its own and the key's place (before: "The body is
    // not valid JSON", which it is; then VALIDATION_FAILED on "body", naming neither key).
    assert.deepEqual([proto.json().code, proto.json().field], ['FORBIDDEN_JSON_KEY', 'body.__proto__'], proto.body);
    assert.match(proto.json().detail, /^body\.__proto__: .*remove or rename it/);
    const constructor = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'application/json' }, payload: '{"name":"x","count":1,"constructor":{"prototype":{"admin":true}}}' });
    assert.deepEqual([constructor.statusCode, constructor.json().code, constructor.json().field], [400, 'FORBIDDEN_JSON_KEY', 'body.constructor.prototype'], constructor.body);
    const deep = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'application/json' }, payload: '{"name":"x","count":1,"tags":[{"a":1},{"b":{"__proto__":null}}]}' });
    assert.deepEqual([deep.statusCode, deep.json().code, deep.json().field], [400, 'FORBIDDEN_JSON_KEY', 'body.tags[1].b.__proto__'], deep.body);
    const harmless = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'application/json' }, payload: '{"name":"x","count":1,"constructor":"y"}' });
    assert.notEqual(harmless.json().code, 'FORBIDDEN_JSON_KEY', 'a constructor without a prototype inside is an ordinary key (here one the schema does not take)');
    const broken = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'application/json' }, payload: '{"name":"x",' });
    assert.deepEqual([broken.statusCode, broken.json().code], [400, 'MALFORMED_JSON'], broken.body);
    const notUtf8 = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'application/json' }, payload: Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe]), Buffer.from('","count":1}')]) });
    assert.deepEqual([notUtf8.statusCode, notUtf8.json().code, notUtf8.json().field], [400, 'VALIDATION_FAILED', 'body'], notUtf8.body);
    const loneSurrogate = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'application/json' }, payload: '{"name":"a\\ud800","count":1}' });
    assert.deepEqual([loneSurrogate.statusCode, loneSurrogate.json().field], [400, 'body.name'], loneSurrogate.body);
    const emoji = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'application/json; charset=utf-8' }, payload: '{"name":"pizza \u{1F355}","count":1}' });
    assert.deepEqual([emoji.statusCode, emoji.json().name], [200, 'pizza \u{1F355}'], emoji.body);
    const badUrl = await platform.app.inject({ url: '/v1/orders/%E0%A4%A' });
    assert.deepEqual([badUrl.statusCode, badUrl.json().code], [400, 'BAD_URL'], badUrl.body);
    assert.match(String(badUrl.headers['content-type']), /^application\/problem\+json/);
    assert.match(String(badUrl.headers['x-request-id']), /^[0-9a-f-]{36}$/, 'refused before routing, it still carries its request id');
    const traced = await platform.app.inject({ url: '/v1/orders/%E0%A4%A', headers: { 'x-request-id': 'gateway-7' } });
    assert.equal(traced.headers['x-request-id'], 'gateway-7');
  });

  test('an unknown query parameter is refused on every /v1 route, not only on those that declare a query string', async () => {
    const staff = await platform.deps.tokens.sign({ role: 'staff', restaurantId: '0190c1b2-7a3e-7000-8000-00000000abcd', subject: '0190c1b2-7a3e-7000-8000-00000000abcf' });
    // Before, a route without a querystring schema ignored it (200/404) while one with a schema answered 400.
    const unknown = await platform.app.inject({ url: '/v1/orders/0190c1b2-7a3e-7000-8000-00000000abce?zz=1', headers: { authorization: `Bearer ${staff}` } });
    assert.deepEqual([unknown.statusCode, unknown.json().code, unknown.json().field], [400, 'VALIDATION_FAILED', 'querystring.zz'], unknown.body);
    const echo = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo?x=1', payload: { name: 'x', count: 1 } });
    assert.deepEqual([echo.statusCode, echo.json().field], [400, 'querystring.x'], echo.body);
    // A route that declares its query string keeps it; one without takes none.
    assert.equal((await platform.app.inject({ url: '/v1/probe/item/0190c1b2-7a3e-7000-8000-00000000abcd?limit=2' })).statusCode, 200);
    assert.equal((await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', payload: { name: 'x', count: 1 } })).statusCode, 200);
  });

  test('a URL ending in a slash is the path it spells: no 405 naming a method its slash-less twin takes', async () => {
    // Before: 405 Allow: POST, while POST /v1/tokens/ is a 404 (Fastify does not ignore the slash).
    const get = await platform.app.inject({ url: '/v1/tokens/' });
    assert.deepEqual([get.statusCode, get.json().code, get.headers.allow], [404, 'ROUTE_NOT_FOUND', undefined], get.body);
    assert.equal((await platform.app.inject({ method: 'POST', url: '/v1/tokens/', payload: {} })).statusCode, 404);
    // Without the slash it is still a 405.
    assert.deepEqual([(await platform.app.inject({ url: '/v1/tokens' })).statusCode], [405]);
  });

  test('a body with a Content-Encoding is refused with 415 and Accept-Encoding: identity, not read as if it were not encoded', async () => {
    for (const encoding of ['gzip', 'br', 'deflate']) {
      const encoded = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'application/json', 'content-encoding': encoding }, payload: '{"name":"x","count":1}' });
      assert.deepEqual([encoded.statusCode, encoded.json().code, encoded.headers['accept-encoding']], [415, 'UNSUPPORTED_MEDIA_TYPE', 'identity'], `${encoding}: ${encoded.body}`);
      assert.match(encoded.json().detail, /Content-Encoding is not supported; send the body uncompressed \(identity\)/);
    }
    const identity = await platform.app.inject({ method: 'POST', url: '/v1/probe/echo', headers: { 'content-type': 'application/json', 'content-encoding': 'identity' }, payload: '{"name":"x","count":1}' });
    assert.equal(identity.statusCode, 200, identity.body);
  });

  test('/metrics counts a request whose URL cannot be decoded, as route "unmatched"', async () => {
    assert.equal((await platform.app.inject({ url: '/v1/orders/abc/%zz' })).statusCode, 400);
    const metrics = (await platform.app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /brigade_http_requests_total\{method="GET",route="unmatched",status="400"\} [1-9]/);
  });

  test('/metrics: per-route requests, errors and latency, pool gauges, and the claim-check store', async () => {
    await platform.app.inject({ url: '/v1/probe/boom' });
    await platform.app.inject({ url: '/health/live' });
    const metrics = (await platform.app.inject({ url: '/metrics' })).body;
    assert.match(metrics, /brigade_http_requests_total\{method="GET",route="\/v1\/probe\/boom",status="500"\} [1-9]/);
    assert.match(metrics, /brigade_http_request_errors_total\{method="GET",route="\/v1\/probe\/boom"\} [1-9]/);
    assert.match(metrics, /brigade_http_request_duration_seconds_bucket\{le="0\.005",method="GET",route="\/health\/live"\} \d/);
    for (const state of ['in_use', 'idle', 'waiting']) assert.match(metrics, new RegExp(`brigade_db_pool_connections\\{pool="main",state="${state}"\\} \\d`));
    assert.match(metrics, /brigade_db_pool_max\{pool="main"\} 20/);
    // The claim-check store, as the platform wraps its transport in it: every state, empty ones as 0.
    for (const state of ['held', 'held_past_grace', 'released', 'expired']) {
      assert.match(metrics, new RegExp(`brigade_claim_check_payloads\\{state="${state}"\\} \\d`));
      assert.match(metrics, new RegExp(`brigade_claim_check_bytes\\{state="${state}"\\} \\d`));
    }
  });

  test('/docs serves OpenAPI generated from the route schemas', async () => {
    const page = await platform.app.inject({ url: '/docs/' });
    assert.equal(page.statusCode, 200);
    assert.match(page.body, /swagger-ui/i);
    const spec = (await platform.app.inject({ url: '/docs/json' })).json();
    assert.equal(spec.openapi, '3.1.0');
    assert.ok(spec.paths['/health/ready']);
    assert.deepEqual(spec.paths['/v1/probe/echo'].post.requestBody.content['application/json'].schema.required, ['name', 'count']);
    // Every write declares its body, NoFields for a command without fields: one without took any JSON body.
    const undeclared = Object.entries(spec.paths as Record<string, Record<string, { requestBody?: unknown }>>).flatMap(([path, operations]) =>
      Object.entries(operations).filter(([method, op]) => ['post', 'put', 'patch', 'delete'].includes(method) && op.requestBody === undefined).map(([method]) => `${method} ${path}`),
    );
    assert.deepEqual(undeclared, []);
  });

  test('GET /v1 is the API index: links to the docs, the OpenAPI document and readiness, and every documented operation by service', async () => {
    const spec = (await platform.app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, { summary?: string }>> };
    for (const url of ['/v1', '/v1/']) {
      // Before, the API root answered 404 ROUTE_NOT_FOUND.
      const res = await platform.app.inject({ url });
      assert.equal(res.statusCode, 200, `${url}: ${res.body}`);
      const index = res.json() as { name: string; version: string; links: Record<string, string>; operations: Array<{ service: string; method: string; path: string; summary?: string }> };
      assert.equal(index.version, '1');
      assert.deepEqual(index.links, { docs: '/docs', openapi: '/docs/json', health: '/health/ready' });
      for (const link of Object.values(index.links)) assert.ok([200, 302].includes((await platform.app.inject({ url: link })).statusCode), link);
      const has = (service: string, method: string, path: string) => index.operations.some((o) => o.service === service && o.method === method && o.path === path);
      assert.ok(has('platform', 'GET', '/v1/restaurants'), 'a service route, under its service');
      assert.ok(has('probe', 'GET', '/v1/probe/item/{id}'), 'path parameters in OpenAPI style');
      assert.ok(has('admin', 'GET', '/v1/admin/dead-letters'), 'the dead-letter store');
      assert.equal(
        index.operations.find((o) => o.path === '/v1/restaurants' && o.method === 'GET')?.summary,
        spec.paths['/v1/restaurants']?.get?.summary,
        'the summary of the OpenAPI document',
      );
      assert.ok(!index.operations.some((o) => o.method === 'HEAD'), 'no HEAD twins');
      // Every operation listed is one the OpenAPI document describes: the index hides nothing and invents nothing.
      for (const o of index.operations) assert.ok(spec.paths[o.path]?.[o.method.toLowerCase()], `${o.method} ${o.path} is in /docs/json`);
      // And every operation the document describes is listed, the index itself and the probes too (they were not).
      const listed = new Set(index.operations.map((o) => `${o.method} ${o.path}`));
      for (const [path, operations] of Object.entries(spec.paths)) for (const method of Object.keys(operations)) assert.ok(listed.has(`${method.toUpperCase()} ${path}`), `${method} ${path} is in GET /v1`);
    }
    assert.ok(spec.paths['/v1']?.get, 'the index itself is documented, as /v1');
  });
});

/** Runs `fn` against a platform of its own on a new test database (`empty`: not migrated), then closes both. */
async function withOwnPlatform(fn: (platform: Platform, db: TestDatabase) => Promise<void>, options: { readonly empty?: boolean } = {}): Promise<void> {
  const db = await createTestDatabase({ empty: options.empty === true });
  const config = loadConfig({ DATABASE_URL: db.url }, { services: SERVICE_NAMES });
  const platform = await createPlatform(config, { url: db.url, embedded: null }, { logger: false });
  try {
    await fn(platform, db);
  } finally {
    await platform.close();
    await db.drop();
  }
}

test('/health/ready is 503 while migrations are pending, naming them', () =>
  withOwnPlatform(
    async (platform) => {
      const ready = await platform.app.inject({ url: '/health/ready' });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().checks.database.ok, true);
      assert.equal(ready.json().checks.migrations.ok, false);
      assert.match(ready.json().checks.migrations.detail, /^platform\/0001_service_schemas_and_roles\.sql pending, .*; run brigade migrate$/);
    },
    { empty: true },
  ));

test('/health/ready stays 200 with files a newer release applied (ahead), and is 503 for an applied file gone below the highest (missing) or changed, saying brigade migrate refuses to run', () =>
  withOwnPlatform(async (platform, db) => {
    const track = (name: string) =>
      platform.deps.databases
        .poolForUrl(db.url)
        .query(`insert into brigade_meta.schema_migrations (set_name, name, checksum, duration_ms, applied_by) values ('platform', $1, repeat('0', 64), 1, 'test')`, [name]);
    await track('9999_next_release.sql');
    const ahead = await platform.app.inject({ url: '/health/ready' });
    assert.equal(ahead.statusCode, 200, ahead.body);
    assert.deepEqual(ahead.json().checks.migrations, { ok: true, detail: 'platform/9999_next_release.sql ahead (applied by a newer release)' });
    await track('0001_deleted_file.sql');
    const missing = await platform.app.inject({ url: '/health/ready' });
    assert.equal(missing.statusCode, 503);
    // Found by a review of the CLI: it said "run brigade migrate", which refuses to run on a missing,
    // changed or out-of-order file. Now the words of brigade migrate status for them.
    assert.deepEqual(missing.json().checks.migrations, { ok: false, detail: 'platform/0001_deleted_file.sql missing; brigade migrate refuses to run: brigade migrate verify says why' });
    const pool = platform.deps.databases.poolForUrl(db.url);
    await pool.query(`delete from brigade_meta.schema_migrations where set_name = 'platform' and name = '0001_deleted_file.sql'`);
    const { rows } = await pool.query<{ name: string }>(`update brigade_meta.schema_migrations set checksum = repeat('1', 64) where (set_name, name) = (select set_name, name from brigade_meta.schema_migrations where set_name = 'platform' order by name limit 1) returning name`);
    const changed = await platform.app.inject({ url: '/health/ready' });
    assert.equal(changed.statusCode, 503);
    assert.deepEqual(changed.json().checks.migrations, { ok: false, detail: `platform/${rows[0]!.name} changed; brigade migrate refuses to run: brigade migrate verify says why` });
  }));

test('/health/ready with the migrations table locked: 503 within its bound saying why, the probes at once share one read, and the read ends in the database', () =>
  withOwnPlatform(async (platform, db) => {
    // As a migration's ALTER or a long `brigade migrate` transaction holds it. Found by a review: each probe
    // gave up after 2 s but left its query waiting, with a connection, and said to check that the database was up.
    // The database ends the read 200 ms before the probe stops waiting, so the probe can say a lock held
    // it; on a loaded machine the probe's own bound may still come first (and say only "no answer"), so
    // the lock is taken again, up to three times, until a round answers from the database's side.
    const saysLockHeldIt = (detail: string) => /^no answer within 2 s: the database answered, but .*lock/.test(detail) && !/check that the database is up/.test(detail);
    const details: string[] = [];
    for (let round = 0; round < 3 && !details.some(saysLockHeldIt); round++) {
      const answers = await overlapUnderLock(db.url, 'brigade_meta.schema_migrations', 5, () => platform.app.inject({ url: '/health/ready' }), 3000);
      for (const answer of answers) {
        assert.equal(answer.statusCode, 503, answer.body);
        details.push(answer.json().checks.database.detail as string);
      }
    }
    assert.ok(details.some(saysLockHeldIt), details.join('\n'));
    const ready = await platform.app.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 200, ready.body);
  }));

test('/health/ready with the placement catalog locked: the probes at once share one read of it, which ends in the database; the catalog check fails and the instance stays ready', () =>
  withOwnPlatform(async (platform, db) => {
    assert.equal((await platform.app.inject({ url: '/health/ready' })).statusCode, 200);
    // The catalog's list is served for a second before it is read again.
    await sleep(1100);
    // Found by a review: the probe gave up on the catalog after 2 s, but its read went on waiting on the
    // lock, with a connection of the platform's pool, until the lock went.
    const answers = await overlapUnderLock(db.url, 'platform.tenant_placements', 5, () => platform.app.inject({ url: '/health/ready' }), 3000);
    for (const answer of answers) {
      assert.equal(answer.statusCode, 200, answer.body);
      assert.equal(answer.json().checks['placement-catalog']?.ok, false, answer.body);
    }
    await sleep(1100);
    const ready = await platform.app.inject({ url: '/health/ready' });
    assert.equal(ready.statusCode, 200, ready.body);
    assert.equal(ready.json().checks['placement-catalog'], undefined, ready.body);
  }));
