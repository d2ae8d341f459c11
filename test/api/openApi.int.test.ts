import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { Value } from 'typebox/value';
import { ProblemSchema } from '../../src/api/problem.ts';
import { startTestPlatform, type TestPlatform } from '../support/platform.ts';

/** One documented operation as `/docs/json` gives it, as far as these tests read it. */
interface Operation {
  parameters?: Array<{ name: string; in: string; required?: boolean }>;
  requestBody?: { required?: boolean };
  responses: Record<string, { content?: Record<string, unknown>; headers?: Record<string, unknown> }>;
}

/** One request of the scenario, by the operation it is (its OpenAPI path), and what it got. */
interface Answer {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly type: string | undefined;
  readonly body: string;
  readonly sentBody: boolean;
  readonly sentIfMatch: boolean;
  readonly headers: Record<string, unknown>;
}

const BODY_LIMIT = 8192;
const MENU_CREATES = ['categories', 'items', 'modifier-groups'].map((entity) => `/v1/restaurants/{rid}/menu/${entity}`);
const ORDER_PAUSE = '/v1/restaurants/{rid}/order-pause';

/**
 * The OpenAPI document against what the routes really answer: a scenario drives every route that
 * creates (201), every write under If-Match and the board's stream through their answers, good and
 * bad, and each answer is checked against the document's entry for its operation. Before, the menu's
 * creates and POST /v1/orders were documented as 200 only, no error answer was documented, If-Match
 * was no parameter, bodies that may be left out were required, and the stream was JSON.
 */
describe('the OpenAPI document says what the routes answer', () => {
  let t: TestPlatform;
  let spec: { paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, unknown> } };
  const answers: Answer[] = [];

  /** Sends a request to operation `method path`, its `{params}` filled from `params`, and records the answer. */
  const call = async (
    method: string,
    path: string,
    params: Record<string, string>,
    options: { token?: string; payload?: unknown; headers?: Record<string, string>; raw?: string } = {},
  ) => {
    const url = path.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? assert.fail(`no ${name} for ${path}`));
    const res = await t.request({
      method: method as 'GET',
      url,
      ...(options.token === undefined ? {} : { token: options.token }),
      ...(options.payload === undefined ? {} : { payload: options.payload as Record<string, unknown> }),
      ...(options.raw === undefined ? {} : { payload: options.raw }),
      headers: options.headers ?? {},
    });
    const type = res.headers['content-type'] as string | undefined;
    answers.push({
      method,
      path,
      status: res.statusCode,
      type: type?.split(';')[0],
      body: res.body,
      sentBody: options.payload !== undefined || options.raw !== undefined,
      sentIfMatch: Object.keys(options.headers ?? {}).some((h) => h.toLowerCase() === 'if-match'),
      headers: res.headers,
    });
    return res;
  };
  const expect = async (status: number, ...args: Parameters<typeof call>) => {
    const res = await call(...args);
    assert.equal(res.statusCode, status, `${args[0]} ${args[1]}: ${res.body}`);
    return res.json() as Record<string, unknown> & { id: string; version: number };
  };
  const operation = (method: string, path: string): Operation => spec.paths[path]?.[method.toLowerCase()] ?? assert.fail(`${method} ${path} is not documented`);

  before(async () => {
    t = await startTestPlatform({ HTTP_BODY_LIMIT: String(BODY_LIMIT) });
    spec = (await t.request({ url: '/docs/json' })).json();
    const admin = await t.token('admin', { subject: 'ops' });

    // The directory: every create answers 201.
    const { id: rid } = await expect(201, 'POST', '/v1/restaurants', {}, { token: admin, payload: { name: 'Documented', city: 'Porto', currency: 'EUR' } });
    const { id: other } = await expect(201, 'POST', '/v1/restaurants', {}, { token: admin, payload: { name: 'Elsewhere', city: 'Porto' } });
    await expect(409, 'POST', '/v1/restaurants', {}, { token: admin, payload: { name: 'Documented', city: 'Porto' } });
    const { id: courierId } = await expect(201, 'POST', '/v1/couriers', {}, { token: admin, payload: { name: 'Rita', city: 'Porto' } });
    const signedUp = await expect(201, 'POST', '/v1/customers', {}, { payload: { name: 'Ana', email: 'ana@example.com', address: 'Rua 1, Porto' } });
    await expect(201, 'POST', '/v1/tokens', {}, { token: admin, payload: { role: 'admin' } });
    const manager = await t.token('staff', { restaurantId: rid, subject: randomUUID() });
    await expect(201, 'POST', '/v1/restaurants/{rid}/staff', { rid }, { token: admin, payload: { name: 'Bea', email: 'bea@example.com' } });
    const staff = await t.token('staff', { restaurantId: rid, subject: randomUUID() });
    const otherStaff = await t.token('staff', { restaurantId: other, subject: randomUUID() });
    const customer = String(signedUp.token);
    const courier = await t.token('courier', { subject: courierId });
    // The pick-up address (decision 0040, forty-eighth session): its staff or an admin; another's 404, bad bodies 400.
    // Under If-Match (the review of the new routes, finding 3): 428 without it, 412 stale, 200 with the GET's ETag.
    await expect(428, 'PATCH', '/v1/restaurants/{rid}', { rid }, { token: staff, payload: { pickupAddress: 'Rua das Flores 1, Porto' } });
    await expect(200, 'GET', '/v1/restaurants/{rid}', { rid }, {});
    await expect(200, 'PATCH', '/v1/restaurants/{rid}', { rid }, { token: staff, payload: { pickupAddress: 'Rua das Flores 1, Porto' }, headers: { 'if-match': '"1"' } });
    await expect(412, 'PATCH', '/v1/restaurants/{rid}', { rid }, { token: admin, payload: { pickupAddress: null }, headers: { 'if-match': '"1"' } });
    await expect(200, 'PATCH', '/v1/restaurants/{rid}', { rid }, { token: admin, payload: { pickupAddress: null }, headers: { 'if-match': '"2"' } });
    await expect(400, 'PATCH', '/v1/restaurants/{rid}', { rid }, { token: admin, payload: { pickupAddress: ' ' } });
    await expect(403, 'PATCH', '/v1/restaurants/{rid}', { rid }, { token: courier, payload: { pickupAddress: 'Rua 1' } });
    await expect(404, 'PATCH', '/v1/restaurants/{rid}', { rid }, { token: otherStaff, payload: { pickupAddress: 'Rua 1' } });

    // The menu's creates: every status they document, and only those (see below).
    const create = MENU_CREATES;
    const { id: categoryId } = await expect(201, 'POST', create[0]!, { rid }, { token: staff, payload: { name: 'Mains' } });
    const { id: itemId } = await expect(201, 'POST', create[1]!, { rid }, { token: staff, payload: { categoryId, name: 'Cola', price: 250 } });
    const { id: groupId } = await expect(201, 'POST', create[2]!, { rid }, { token: manager, payload: { itemId, name: 'Size', minChoices: 0, maxChoices: 1, modifiers: [{ name: 'Large', priceDelta: 100 }] } });
    const bodies = [{ name: 'Drinks' }, { categoryId, name: 'Water', price: 100 }, { itemId, name: 'Ice', minChoices: 0, maxChoices: 1, modifiers: [] }];
    for (const [i, path] of create.entries()) {
      const body = bodies[i]!;
      await expect(400, 'POST', path, { rid }, { token: staff, payload: { ...body, colour: 'red' } });
      await expect(401, 'POST', path, { rid }, { payload: body });
      await expect(403, 'POST', path, { rid }, { token: customer, payload: body });
      await expect(404, 'POST', path, { rid }, { token: otherStaff, payload: body });
      await expect(404, 'POST', path, { rid: randomUUID() }, { token: admin, payload: body });
      await expect(413, 'POST', path, { rid }, { token: staff, payload: { ...body, name: 'x'.repeat(BODY_LIMIT) } });
      await expect(415, 'POST', path, { rid }, { token: staff, raw: 'name=Drinks', headers: { 'content-type': 'text/plain' } });
    }
    await expect(422, 'POST', create[1]!, { rid }, { token: staff, payload: { categoryId: randomUUID(), name: 'Juice', price: 300 } });
    await expect(422, 'POST', create[2]!, { rid }, { token: staff, payload: { itemId: randomUUID(), name: 'Ice', minChoices: 0, maxChoices: 1, modifiers: [] } });

    // Every write of a menu row under If-Match: 428 without it, 412 stale, 200 with it (no body where none is needed).
    const rows = [
      ['categories', categoryId, { name: 'Main courses' }],
      ['items', itemId, { price: 300 }],
      ['modifier-groups', groupId, { name: 'Sizes' }],
    ] as const;
    for (const [entity, id, change] of rows) {
      const path = `/v1/restaurants/{rid}/menu/${entity}/{id}`;
      const read = await call('GET', path, { rid, id });
      assert.equal(read.headers.etag, '"1"');
      await expect(428, 'PATCH', path, { rid, id }, { token: staff, payload: change });
      await expect(412, 'PATCH', path, { rid, id }, { token: staff, payload: change, headers: { 'if-match': '"7"' } });
      await expect(200, 'PATCH', path, { rid, id }, { token: staff, payload: change, headers: { 'if-match': '"1"' } });
      await expect(428, 'DELETE', path, { rid, id }, { token: staff });
      await expect(200, 'DELETE', path, { rid, id }, { token: staff, headers: { 'if-match': '"2"' } });
      await expect(428, 'POST', `${path}/restore`, { rid, id }, { token: staff });
      await expect(200, 'POST', `${path}/restore`, { rid, id }, { token: staff, headers: { 'if-match': '"3"' } });
      await expect(422, 'POST', `${path}/restore`, { rid, id }, { token: staff, headers: { 'if-match': '"4"' } });
    }
    const menu = await call('GET', '/v1/restaurants/{rid}/menu', { rid });
    await call('GET', '/v1/restaurants/{rid}/menu', { rid }, { headers: { 'if-none-match': String(menu.headers.etag) } });
    await expect(404, 'GET', '/v1/restaurants/{rid}/menu', { rid: randomUUID() });

    // Pausing new orders (decision 0094): its staff or an admin; another restaurant's staff 404, a
    // customer or courier 403; bad bodies 400; a placement meanwhile 409; every status both routes document.
    for (const method of ['PUT', 'DELETE'] as const) {
      const body = method === 'PUT' ? { reason: 'Busy night' } : undefined;
      const some = body === undefined ? {} : { payload: body };
      await expect(400, method, ORDER_PAUSE, { rid }, { token: staff, payload: { colour: 'red' } });
      await expect(401, method, ORDER_PAUSE, { rid }, some);
      await expect(403, method, ORDER_PAUSE, { rid }, { token: courier, ...some });
      await expect(403, method, ORDER_PAUSE, { rid }, { token: customer, ...some });
      await expect(404, method, ORDER_PAUSE, { rid }, { token: otherStaff, ...some });
      await expect(404, method, ORDER_PAUSE, { rid: randomUUID() }, { token: admin, ...some });
      await expect(413, method, ORDER_PAUSE, { rid }, { token: staff, payload: { reason: 'x'.repeat(BODY_LIMIT) } });
      await expect(415, method, ORDER_PAUSE, { rid }, { token: staff, raw: 'reason=Busy', headers: { 'content-type': 'text/plain' } });
    }
    await expect(400, 'PUT', ORDER_PAUSE, { rid }, { token: staff, payload: { until: '2000-01-01T00:00:00Z' } });
    await expect(200, 'PUT', ORDER_PAUSE, { rid }, { token: staff, payload: { reason: 'Busy night', until: new Date(Date.now() + 3_600_000).toISOString() } });
    const paused = { restaurantId: rid, deliveryAddress: 'Rua 1, Porto', lines: [{ itemId, quantity: 1 }] };
    await expect(409, 'POST', '/v1/orders', {}, { token: customer, payload: paused, headers: { 'idempotency-key': 'documented-paused' } });
    await expect(200, 'DELETE', ORDER_PAUSE, { rid }, { token: admin });

    // The couriers staff may assign: theirs, not another restaurant's; not a customer's to read.
    await expect(200, 'GET', '/v1/restaurants/{rid}/couriers', { rid }, { token: staff });
    await expect(404, 'GET', '/v1/restaurants/{rid}/couriers', { rid }, { token: otherStaff });
    await expect(404, 'GET', '/v1/restaurants/{rid}/couriers', { rid: randomUUID() }, { token: admin });
    await expect(403, 'GET', '/v1/restaurants/{rid}/couriers', { rid }, { token: customer });

    // An order: 201, then 200 for the same key and body; every command under If-Match.
    const place = { restaurantId: rid, deliveryAddress: 'Rua 1, Porto', lines: [{ itemId, quantity: 1 }] };
    const order = await expect(201, 'POST', '/v1/orders', {}, { token: customer, payload: place, headers: { 'idempotency-key': 'documented-1' } });
    await expect(200, 'POST', '/v1/orders', {}, { token: customer, payload: place, headers: { 'idempotency-key': 'documented-1' } });
    await expect(422, 'POST', '/v1/orders', {}, { token: customer, payload: { ...place, deliveryAddress: 'Rua 2, Porto' }, headers: { 'idempotency-key': 'documented-1' } });
    await expect(409, 'POST', '/v1/orders', {}, { token: customer, payload: { ...place, expectedTotal: 1 }, headers: { 'idempotency-key': 'documented-2' } });
    await expect(403, 'POST', '/v1/orders', {}, { token: staff, payload: place, headers: { 'idempotency-key': 'documented-3' } });
    const id = order.id;
    await expect(200, 'GET', '/v1/orders/{id}', { id }, { token: customer });
    await expect(200, 'GET', '/v1/orders/{id}/events', { id }, { token: customer });
    await expect(404, 'GET', '/v1/orders/{id}', { id: randomUUID() }, { token: customer });
    const lineId = ((order.lines as Array<{ lineId: string }>)[0]!).lineId;
    const commands: Array<[string, string, Record<string, unknown> | undefined]> = [
      ['accept', staff, undefined],
      ['reject', staff, { reason: 'closed' }],
      ['mark-item-prepared', staff, { lineId }],
      ['ready', staff, undefined],
      ['assign-courier', staff, { courierId }],
      ['cancel', customer, undefined],
    ];
    for (const [name, token, payload] of commands) await expect(428, 'POST', `/v1/orders/{id}/${name}`, { id }, { token, ...(payload === undefined ? {} : { payload }) });
    await expect(200, 'POST', '/v1/orders/{id}/accept', { id }, { token: staff, headers: { 'if-match': '"1"' } });
    await expect(412, 'POST', '/v1/orders/{id}/ready', { id }, { token: staff, headers: { 'if-match': '"1"' } });
    await expect(422, 'POST', '/v1/orders/{id}/cancel', { id }, { token: customer, headers: { 'if-match': '"2"' } });
    await expect(200, 'POST', '/v1/orders/{id}/assign-courier', { id }, { token: staff, payload: { courierId }, headers: { 'if-match': '"2"' } });
    await expect(428, 'POST', '/v1/orders/{id}/pick-up', { id }, { token: courier });
    await expect(428, 'POST', '/v1/orders/{id}/deliver', { id }, { token: courier });
    await expect(403, 'POST', '/v1/orders/{id}/pick-up', { id }, { token: staff, headers: { 'if-match': '"3"' } });
    await expect(200, 'POST', '/v1/orders/{id}/ready', { id }, { token: staff, headers: { 'if-match': '"3"' } });
    await expect(200, 'POST', '/v1/orders/{id}/pick-up', { id }, { token: courier, headers: { 'if-match': '"4"' } });
    await expect(200, 'POST', '/v1/orders/{id}/deliver', { id }, { token: courier, headers: { 'if-match': '"5"' } });

    // The rest of the directory, and the card on file removed without a body.
    await expect(200, 'PUT', '/v1/customers/me/payment-method', {}, { token: customer, payload: { cardNumber: '4242 4242 4242 4242' } });
    await call('DELETE', '/v1/customers/me/payment-method', {}, { token: customer });
    assert.equal(answers.at(-1)?.status, 204);
    await expect(404, 'DELETE', '/v1/customers/me/payment-method', {}, { token: customer });

    // Password sign-in: a first password, a change without and with the current one, a sign-in, and
    // every failure up to the limiter's 429.
    // Each change answers a fresh token and revokes the ones given before (401 TOKEN_REVOKED).
    const first = await expect(200, 'PUT', '/v1/customers/me/password', {}, { token: customer, payload: { password: 'first password' } });
    await expect(401, 'PUT', '/v1/customers/me/password', {}, { token: customer, payload: { password: 'second password', currentPassword: 'first password' } });
    await expect(403, 'PUT', '/v1/customers/me/password', {}, { token: String(first.token), payload: { password: 'second password' } });
    await expect(200, 'PUT', '/v1/customers/me/password', {}, { token: String(first.token), payload: { password: 'second password', currentPassword: 'first password' } });
    await expect(404, 'PUT', '/v1/customers/me/password', {}, { token: await t.token('customer', { subject: randomUUID() }), payload: { password: 'any password' } });
    await expect(201, 'POST', '/v1/customers', {}, { payload: { name: 'Eva', email: 'eva@example.com', address: 'Rua 3, Porto', password: 'eva password' } });
    await expect(200, 'POST', '/v1/customers/sign-in', {}, { payload: { email: 'eva@example.com', password: 'eva password' } });
    for (let i = 0; i < 5; i += 1) await expect(401, 'POST', '/v1/customers/sign-in', {}, { payload: { email: 'ana@example.com', password: 'wrong password' } });
    await expect(429, 'POST', '/v1/customers/sign-in', {}, { payload: { email: 'ana@example.com', password: 'second password' } });
    // An admin reads a courier's availability and takes them off dispatch; not a staff's to do; an unknown courier; only off.
    await expect(200, 'GET', '/v1/couriers/{courierId}/availability', { courierId }, { token: admin });
    await expect(404, 'GET', '/v1/couriers/{courierId}/availability', { courierId: randomUUID() }, { token: admin });
    await expect(403, 'GET', '/v1/couriers/{courierId}/availability', { courierId }, { token: staff });
    await expect(200, 'POST', '/v1/couriers/{courierId}/availability', { courierId }, { token: admin, payload: { available: false } });
    await expect(400, 'POST', '/v1/couriers/{courierId}/availability', { courierId }, { token: admin, payload: { available: true } });
    await expect(403, 'POST', '/v1/couriers/{courierId}/availability', { courierId }, { token: staff, payload: { available: false } });
    await expect(404, 'POST', '/v1/couriers/{courierId}/availability', { courierId: randomUUID() }, { token: admin, payload: { available: false } });
    // Token revocations: one, a subject that is no UUID for its role, a non-admin, the list, and the revoked courier's next request.
    await expect(200, 'POST', '/v1/admin/token-revocations', {}, { token: admin, payload: { role: 'courier', subject: courierId, reason: 'documented' } });
    await expect(400, 'POST', '/v1/admin/token-revocations', {}, { token: admin, payload: { role: 'staff', subject: 'not-a-uuid' } });
    await expect(403, 'POST', '/v1/admin/token-revocations', {}, { token: staff, payload: { role: 'staff', subject: randomUUID() } });
    await expect(200, 'GET', '/v1/admin/token-revocations', {}, { token: admin });
    await expect(401, 'GET', '/v1/couriers/me', {}, { token: courier });
    await expect(200, 'POST', '/v1/admin/dead-letters/redrive', {}, { token: admin });
    await expect(406, 'GET', '/v1/restaurants/{rid}/board/stream', { rid }, { token: staff, headers: { accept: 'application/json' } });
  });
  after(async () => {
    await t?.close();
  });

  test('every answer of the scenario is one the document lists for its operation, with its media type', () => {
    const undocumented: string[] = [];
    for (const a of answers) {
      const response = operation(a.method, a.path).responses[String(a.status)];
      if (response === undefined) {
        undocumented.push(`${a.method} ${a.path} answered ${a.status}: ${a.body.slice(0, 120)}`);
        continue;
      }
      if (a.status === 204 || a.status === 304) assert.equal(response.content, undefined, `${a.method} ${a.path} ${a.status} has no body`);
      else assert.ok(a.type !== undefined && response.content?.[a.type] !== undefined, `${a.method} ${a.path} ${a.status} is documented as ${Object.keys(response.content ?? {}).join(', ')}, answered ${a.type}`);
    }
    assert.deepEqual(undocumented, []);
  });

  test('every operation documented 201 answers 201, and POST /v1/orders 200 for a replay', () => {
    const created = Object.entries(spec.paths).flatMap(([path, ops]) => Object.entries(ops).filter(([, op]) => op.responses['201'] !== undefined).map(([method]) => `${method.toUpperCase()} ${path}`));
    assert.ok(created.length >= 9, created.join(', '));
    for (const op of created) assert.ok(answers.some((a) => `${a.method} ${a.path}` === op && a.status === 201), `${op} is documented 201 and never answered it`);
    for (const path of MENU_CREATES) assert.equal(operation('POST', path).responses['200'], undefined, `${path} never answers 200`);
    assert.ok(operation('POST', '/v1/orders').responses['200'] !== undefined);
    assert.ok(answers.some((a) => a.path === '/v1/orders' && a.status === 200));
  });

  test('the menu creates document exactly the statuses they answer', () => {
    for (const path of MENU_CREATES) {
      const documented = Object.keys(operation('POST', path).responses).sort();
      const answered = [...new Set(answers.filter((a) => a.method === 'POST' && a.path === path).map((a) => String(a.status)))].sort();
      assert.deepEqual(documented, answered, path);
      assert.ok(operation('POST', path).responses['201']!.headers?.ETag, `${path}: the new row's ETag`);
    }
  });

  test('the order-pause routes document exactly the statuses they answer', () => {
    for (const method of ['PUT', 'DELETE']) {
      const documented = Object.keys(operation(method, ORDER_PAUSE).responses).sort();
      const answered = [...new Set(answers.filter((a) => a.method === method && a.path === ORDER_PAUSE).map((a) => String(a.status)))].sort();
      assert.deepEqual(documented, answered, `${method} ${ORDER_PAUSE}`);
    }
  });

  test('a write that answers 428 without If-Match documents a required If-Match, with 412 and 428; one that documents it answers 428 without', () => {
    const ifMatchOf = (op: Operation) => op.parameters?.find((p) => p.in === 'header' && p.name.toLowerCase() === 'if-match');
    const refused = answers.filter((a) => a.status === 428);
    assert.ok(refused.length >= 17, `${refused.length} writes refused without If-Match`);
    for (const a of refused) {
      assert.equal(a.sentIfMatch, false);
      const op = operation(a.method, a.path);
      assert.equal(ifMatchOf(op)?.required, true, `${a.method} ${a.path} answers 428 without If-Match and does not document it as required`);
      assert.ok(op.responses['412'] && op.responses['428'], `${a.method} ${a.path}: 412 and 428`);
      assert.ok(op.responses['200']?.headers?.ETag, `${a.method} ${a.path}: the new version's ETag`);
    }
    for (const [path, ops] of Object.entries(spec.paths)) {
      for (const [method, op] of Object.entries(ops)) {
        if (ifMatchOf(op) === undefined) continue;
        assert.ok(refused.some((a) => a.method === method.toUpperCase() && a.path === path), `${method.toUpperCase()} ${path} documents If-Match and never answered 428`);
      }
    }
  });

  test('a body that may be left out is not documented as required', () => {
    const withoutBody = answers.filter((a) => !a.sentBody && a.status < 300 && ['POST', 'PUT', 'PATCH', 'DELETE'].includes(a.method));
    assert.ok(withoutBody.length >= 10, `${withoutBody.length} writes without a body`);
    for (const a of withoutBody) assert.equal(operation(a.method, a.path).requestBody?.required, false, `${a.method} ${a.path} took no body (${a.status}) and documents one as required`);
    // A command whose body has a required member still requires it.
    assert.equal(operation('POST', '/v1/orders/{id}/reject').requestBody?.required, true);
  });

  test('every error answer is a problem document as components.schemas.Problem describes it', () => {
    assert.deepEqual(spec.components.schemas.Problem, JSON.parse(JSON.stringify(ProblemSchema)));
    const errors = answers.filter((a) => a.status >= 400);
    assert.ok(errors.length >= 40);
    for (const a of errors) {
      assert.equal(a.type, 'application/problem+json', `${a.method} ${a.path} ${a.status}`);
      assert.ok(Value.Check(ProblemSchema, JSON.parse(a.body)), `${a.method} ${a.path} ${a.status}: ${a.body}`);
    }
  });

  test('the board stream is documented, and answers, as text/event-stream', async () => {
    const op = operation('GET', '/v1/restaurants/{rid}/board/stream');
    assert.deepEqual(Object.keys(op.responses['200']!.content ?? {}), ['text/event-stream']);
    const admin = await t.token('admin', { subject: 'ops' });
    const rid = answers.find((a) => a.path === '/v1/restaurants' && a.status === 201)!.body.match(/"id":"([^"]+)"/)![1]!;
    const server = http.createServer((req, res) => t.platform.app.routing(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const stop = new AbortController();
    try {
      const res = await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/v1/restaurants/${rid}/board/stream`, { headers: { authorization: `Bearer ${admin}` }, signal: stop.signal });
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('content-type')?.split(';')[0], 'text/event-stream');
      assert.ok(op.responses[String(res.status)]?.content?.[res.headers.get('content-type')!.split(';')[0]!]);
    } finally {
      stop.abort();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
