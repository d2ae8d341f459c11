import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../support/platform.ts';

/** One documented operation as `/docs/json` gives it, as far as this test reads it. */
interface Operation {
  parameters?: Array<{ name: string; in: string; required?: boolean; schema?: { type?: string; minimum?: number } }>;
}

/** What a required query parameter other than the numeric ones is sent as; a route that needs another fails the test until it is added here. */
const REQUIRED_QUERY: Record<string, string> = { q: 'pizza', city: 'Porto' };

/** What every numeric query parameter is sent as: numbers that are not finite, in every spelling a query string converts. */
const NOT_FINITE = ['1e309', '-1e309', 'Infinity', '-Infinity', 'NaN'];

let t: TestPlatform;
before(async () => {
  t = await startTestPlatform();
});
after(async () => {
  await t?.close();
});

/**
 * Every GET of the OpenAPI document that takes a numeric query parameter, sent each non-finite number
 * in it under a token the route answers 200 to. Before, `?limit=1e309` (±Infinity after the query
 * string's conversion) passed the schema's minimum and maximum, reached the SQL and answered 500 on the
 * courier's tasks, the customer's orders, the board, the token revocations and the menu search.
 */
test('every documented GET refuses a numeric query parameter that is not finite with 400 VALIDATION_FAILED naming it (before: 500 for ±1e309 and Infinity)', async () => {
  const spec = (await t.request({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, Operation>> };
  const admin = await t.token('admin', { subject: 'ops' });
  const created = async (url: string, payload: Record<string, unknown>, token?: string) => {
    const res = await t.request({ method: 'POST', url, payload, ...(token === undefined ? {} : { token }) });
    assert.equal(res.statusCode, 201, `${url}: ${res.body}`);
    return res.json() as { id: string; token?: string };
  };
  const { id: rid } = await created('/v1/restaurants', { name: 'Finite', city: 'Porto', currency: 'EUR' }, admin);
  const { id: courierId } = await created('/v1/couriers', { name: 'Rita', city: 'Porto' }, admin);
  const signedUp = await created('/v1/customers', { name: 'Ana', email: 'ana@example.com', address: 'Rua 1, Porto' });
  const tokens = {
    admin,
    staff: await t.token('staff', { restaurantId: rid, subject: randomUUID() }),
    courier: await t.token('courier', { subject: courierId }),
    customer: String(signedUp.token),
  };
  const pathParams: Record<string, string> = { rid };

  const covered: string[] = [];
  const wrong: string[] = [];
  for (const [path, operations] of Object.entries(spec.paths)) {
    const get = operations.get;
    const query = (get?.parameters ?? []).filter((p) => p.in === 'query');
    const numeric = query.filter((p) => p.schema?.type === 'integer' || p.schema?.type === 'number');
    if (numeric.length === 0) continue;
    const url = path.replace(/\{(\w+)\}/g, (_, name: string) => pathParams[name] ?? assert.fail(`no value for {${name}} of GET ${path}; add one`));
    const fixed = Object.fromEntries(query.filter((p) => p.required === true && !numeric.includes(p)).map((p) => [p.name, REQUIRED_QUERY[p.name] ?? assert.fail(`no value for the required ?${p.name} of GET ${path}; add one to REQUIRED_QUERY`)]));
    const fine = Object.fromEntries(numeric.map((p) => [p.name, String(p.schema?.minimum ?? 1)]));
    // The first role the route answers 200 to, with every numeric parameter at a good value.
    let token: string | undefined;
    for (const candidate of Object.values(tokens)) {
      const res = await t.request({ url, query: { ...fixed, ...fine }, token: candidate });
      if (res.statusCode === 200) {
        token = candidate;
        break;
      }
    }
    assert.ok(token !== undefined, `GET ${path} answered no role 200 with ${JSON.stringify({ ...fixed, ...fine })}`);
    for (const parameter of numeric) {
      for (const sent of NOT_FINITE) {
        const res = await t.request({ url, query: { ...fixed, ...fine, [parameter.name]: sent }, token });
        const problem = res.json() as { code?: string; field?: string };
        if (res.statusCode !== 400 || problem.code !== 'VALIDATION_FAILED' || problem.field !== `querystring.${parameter.name}`) {
          wrong.push(`GET ${path}?${parameter.name}=${sent} answered ${res.statusCode} ${res.body.slice(0, 100)}`);
        }
      }
    }
    covered.push(`GET ${path}`);
  }
  assert.deepEqual(wrong, []);
  // The routes the review found answering 500, and the dead letters' list: the walk reached them all.
  for (const path of ['/v1/couriers/me/tasks', '/v1/customers/me/orders', '/v1/restaurants/{rid}/board', '/v1/admin/token-revocations', '/v1/menu/search', '/v1/admin/dead-letters']) {
    assert.ok(covered.includes(`GET ${path}`), `GET ${path} was walked (${covered.join(', ')})`);
  }
});
