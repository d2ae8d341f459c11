import assert from 'node:assert/strict';
import { request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import client from 'prom-client';
import { buildApp } from '../../src/api/index.ts';

/** GETs `path` exactly as written (no dot segments resolved, as `fetch` and `inject` would). */
function getAsWritten(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test("an error of Fastify's or a plugin's without a code of Brigade's gets the code of its status: not BAD_REQUEST for every 4xx, nor an FST_ERR_* name", async (t) => {
  const app = await buildApp({ bodyLimit: 1024, logger: false, metrics: new client.Registry(), readiness: async () => ({ ok: true, checks: {} }) });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  // The docs' static files refuse a path that climbs out of their folder (403); before, its code was BAD_REQUEST.
  const outside = await getAsWritten((app.server.address() as AddressInfo).port, '/docs/static/%2e%2e/%2e%2e/package.json');
  assert.equal(outside.status, 403, outside.body);
  assert.match(outside.type, /^application\/problem\+json/);
  assert.equal((JSON.parse(outside.body) as { code: string }).code, 'FORBIDDEN');
});
