import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FastifyPluginAsync } from 'fastify';
import client from 'prom-client';
import { Type } from 'typebox';
import { absentBodyIsEmpty, buildApp, NoFields } from '../../src/api/index.ts';

/** The shell alone (no database): health, the index, the docs, and a service of the test's own. */
async function shell() {
  const probe: FastifyPluginAsync = async (app) => {
    app.post('/probe/things', { schema: { body: Type.Object({ name: Type.String() }) }, config: { docs: { success: { 201: 'The new thing' }, etag: true, errors: { 409: 'ALREADY_EXISTS' } } } }, async (_request, reply) =>
      reply.status(201).header('etag', '"1"').send({ id: 1 }),
    );
    app.post('/probe/things/:id/close', { schema: { body: NoFields }, preValidation: absentBodyIsEmpty, config: { docs: { ifMatch: true } } }, async () => ({ closed: true }));
  };
  return buildApp({ bodyLimit: 1024, logger: false, metrics: new client.Registry(), readiness: async () => ({ ok: true, checks: {} }), services: [{ name: 'probe', routes: probe }] });
}

test('/docs, its assets and its document carry a content security policy that no other origin frames, and nosniff (before: no security header)', async (t) => {
  const app = await shell();
  t.after(() => app.close());
  for (const url of ['/docs/', '/docs/static/swagger-ui-bundle.js', '/docs/static/swagger-initializer.js', '/docs/json']) {
    const res = await app.inject({ url });
    assert.equal(res.statusCode, 200, url);
    const csp = String(res.headers['content-security-policy']);
    assert.match(csp, /frame-ancestors 'none'/, url);
    assert.match(csp, /default-src 'none'/, url);
    assert.match(csp, /script-src 'self'(;|$)/, `${url}: no inline or foreign script`);
    assert.match(csp, /connect-src 'self'/, url);
    assert.equal(res.headers['x-content-type-options'], 'nosniff', url);
    assert.equal(res.headers['x-frame-options'], 'DENY', url);
    assert.equal(res.headers['referrer-policy'], 'no-referrer', url);
  }
  // The API keeps its own headers: the policy is the docs'.
  assert.equal((await app.inject({ url: '/v1' })).headers['content-security-policy'], undefined);
});

test('/favicon.ico answers 204, not a 404 in every console (before: 404 ROUTE_NOT_FOUND)', async (t) => {
  const app = await shell();
  t.after(() => app.close());
  const res = await app.inject({ url: '/favicon.ico' });
  assert.equal(res.statusCode, 204, res.body);
  assert.equal(res.body, '');
  assert.match(String(res.headers['cache-control']), /max-age=\d+/);
  const spec = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, unknown> };
  assert.equal(spec.paths['/favicon.ico'], undefined, 'not an operation of the API');
});

test('GET /v1 lists every operation of the OpenAPI document, itself and the probes too (before: /v1 and /health/* were left out)', async (t) => {
  const app = await shell();
  t.after(() => app.close());
  const spec = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, unknown>> };
  const index = (await app.inject({ url: '/v1' })).json() as { operations: Array<{ service: string; method: string; path: string }> };
  const documented = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).map((method) => `${method.toUpperCase()} ${path}`)).sort();
  assert.deepEqual(index.operations.map((o) => `${o.method} ${o.path}`).sort(), documented);
  const serviceOf = (path: string) => index.operations.find((o) => o.path === path)?.service;
  assert.deepEqual([serviceOf('/health/live'), serviceOf('/health/ready'), serviceOf('/v1'), serviceOf('/v1/probe/things')], ['health', 'health', 'index', 'probe']);
});

test("a route's config.docs completes its operation without changing what it sends", async (t) => {
  const app = await shell();
  t.after(() => app.close());
  const spec = (await app.inject({ url: '/docs/json' })).json() as { paths: Record<string, Record<string, { parameters?: Array<{ name: string; required: boolean }>; requestBody?: { required: boolean }; responses: Record<string, { description: string; headers?: object; content?: Record<string, { schema: unknown }> }> }>> };
  const create = spec.paths['/v1/probe/things']!.post!;
  assert.deepEqual(Object.keys(create.responses), ['201', '400', '401', '409', '413', '415']);
  assert.equal(create.responses['201']!.description, 'The new thing');
  assert.ok(create.responses['201']!.headers && 'ETag' in create.responses['201']!.headers);
  assert.deepEqual(create.responses['409']!.content, { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } });
  assert.equal(create.requestBody?.required, true);
  const close = spec.paths['/v1/probe/things/{id}/close']!.post!;
  assert.deepEqual(close.parameters?.filter((p) => p.name === 'if-match').map((p) => p.required), [true]);
  assert.deepEqual(Object.keys(close.responses), ['200', '400', '401', '412', '413', '415', '428']);
  assert.equal(close.requestBody?.required, false, 'an absent body is taken as {}');
  // What the route sends is its own: no response schema took a member away or reordered one.
  const sent = await app.inject({ method: 'POST', url: '/v1/probe/things', payload: { name: 'a' } });
  assert.deepEqual([sent.statusCode, sent.body, sent.headers.etag], [201, '{"id":1}', '"1"']);
});
