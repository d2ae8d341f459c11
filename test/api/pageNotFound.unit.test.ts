import assert from 'node:assert/strict';
import { test } from 'node:test';
import client from 'prom-client';
import { buildApp } from '../../src/api/index.ts';

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8';

/** The shell with the pages (no database): what an address that is no page gets. */
async function withPages(services?: readonly string[]) {
  return buildApp({ bodyLimit: 1024, logger: false, metrics: new client.Registry(), readiness: async () => ({ ok: true, checks: {} }), pages: { devLogin: false, ...(services === undefined ? {} : { services }) } });
}

test("a browser's mistyped page address gets a 404 page that says so and links to the pages, under the pages' headers (before: the API's problem JSON, shown raw)", async (t) => {
  const app = await withPages();
  t.after(() => app.close());
  for (const url of ['/bord/5b0f7c39-60a4-4a52-8a57-2a0d1e6f2f11', '/tracking/abc?x=1', '/courier/extra', '/dev-login']) {
    const res = await app.inject({ url, headers: { accept: BROWSER_ACCEPT } });
    assert.equal(res.statusCode, 404, url);
    assert.match(String(res.headers['content-type']), /^text\/html/, url);
    assert.match(String(res.headers['content-security-policy']), /default-src 'none'/, url);
    assert.equal(res.headers['cache-control'], 'no-store', url);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
    assert.match(res.body, /There is no page at <code>/, url);
    assert.match(res.body, /<a href="\/login">Sign in<\/a>/, url);
    assert.match(res.body, /<a href="\/courier">\/courier<\/a>/, url);
    assert.match(res.body, /<code>\/track\/&#60;order id&#62;<\/code>/, url);
    assert.match(res.body, /href="\/docs"/, url);
    assert.doesNotMatch(res.body, /x=1/, `${url}: the query is not shown`);
    // The page's one stylesheet is served.
    assert.equal((await app.inject({ url: '/web/app.css' })).statusCode, 200);
  }
  const head = await app.inject({ method: 'HEAD', url: '/bord', headers: { accept: BROWSER_ACCEPT } });
  assert.equal(head.statusCode, 404);
  assert.match(String(head.headers['content-type']), /^text\/html/);
});

test('the address is shown escaped: markup in a path is text', async (t) => {
  const app = await withPages();
  t.after(() => app.close());
  const res = await app.inject({ url: '/%3Cscript%3Ealert(1)%3C%2Fscript%3E"x', headers: { accept: BROWSER_ACCEPT } });
  assert.equal(res.statusCode, 404);
  assert.doesNotMatch(res.body, /<script>/);
  assert.match(res.body, /&#60;script&#62;alert\(1\)/);
});

test('API clients keep the problem JSON: the API paths whatever they accept, and elsewhere a client that does not ask for HTML', async (t) => {
  const app = await withPages();
  t.after(() => app.close());
  const cases: Array<[string, string | undefined, string]> = [
    ['/v1/no-such-thing', BROWSER_ACCEPT, 'an API path, from a browser'],
    ['/health/nothing', BROWSER_ACCEPT, 'a probe path'],
    ['/web/missing.js', BROWSER_ACCEPT, "a page's asset"],
    ['/bord', '*/*', 'fetch or curl'],
    ['/bord', undefined, 'no Accept'],
    ['/bord', 'application/json', 'JSON asked for'],
    ['/bord', 'text/htmlx', 'not text/html'],
  ];
  for (const [url, accept, what] of cases) {
    const res = await app.inject({ url, headers: accept === undefined ? {} : { accept } });
    assert.equal(res.statusCode, 404, what);
    assert.match(String(res.headers['content-type']), /^application\/problem\+json/, what);
    assert.equal(res.json().code, 'ROUTE_NOT_FOUND', what);
  }
  const post = await app.inject({ method: 'POST', url: '/bord', headers: { accept: BROWSER_ACCEPT }, payload: {} });
  assert.equal(post.json().code, 'ROUTE_NOT_FOUND', 'a POST');
});

test('a process that serves no page (menu alone) answers the problem JSON to a browser too', async (t) => {
  const app = await withPages(['menu']);
  t.after(() => app.close());
  const res = await app.inject({ url: '/bord', headers: { accept: BROWSER_ACCEPT } });
  assert.equal(res.statusCode, 404);
  assert.equal(res.json().code, 'ROUTE_NOT_FOUND');
});

test('a process serving the board alone lists the board and no sign-in', async (t) => {
  const app = await withPages(['ordering']);
  t.after(() => app.close());
  const res = await app.inject({ url: '/bord', headers: { accept: BROWSER_ACCEPT } });
  assert.equal(res.statusCode, 404);
  assert.match(res.body, /\/board\/&#60;restaurant id&#62;/);
  assert.match(res.body, /\/login/, 'ordering serves the sign-in page');
  assert.doesNotMatch(res.body, /\/courier/, 'the courier page needs delivery');
});
