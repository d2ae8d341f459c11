import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import path from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';

// web/common.js is the browser's module, served as it is; its api() runs on fetch, which Node has too.
Object.assign(globalThis, { window: { sessionStorage: { getItem: () => 'token' }, location: { origin: 'http://127.0.0.1' } } });
const commonJs = pathToFileURL(path.resolve(import.meta.dirname, '..', '..', 'web', 'common.js')).href;
type Result = { ok: boolean; status: number; body: { detail?: string } | null; etag: string | null; retryAfter: number | null };
const { api, worthRetrying } = (await import(commonJs)) as { api(path: string): Promise<Result>; worthRetrying(result: Result): boolean };

test("an answer whose body is cut off after its headers is answered as a network failure (status 0, said in words), not a rejection (before: api() rejected, and the courier's and the tracking page's polls stopped for good)", async (t) => {
  const server = createServer((_request, response) => {
    // The headers and part of the body, then the connection breaks (a mobile network, a proxy's reset).
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': '1000' });
    response.write('{"tasks":[', () => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const { port } = server.address() as { port: number };
  const result = await api(`http://127.0.0.1:${port}/v1/couriers/me/tasks`);
  assert.deepEqual(result, { ok: false, status: 0, body: { detail: "The platform's answer was cut off: check your connection." }, etag: null, retryAfter: null });
  assert.equal(worthRetrying(result), true, 'the pages try it again, as a network failure');
});
