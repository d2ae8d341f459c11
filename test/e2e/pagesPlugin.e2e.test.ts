import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import Fastify from 'fastify';
import { errorHandler } from '../../src/api/index.ts';
import { pagesPlugin, type DevTokenRequest } from '../../src/api/pages.ts';

/** The pages plugin alone (no browser, no database): what it serves, with which headers, and when. */
async function pagesApp(devLogin: boolean) {
  const minted: DevTokenRequest[] = [];
  const app = Fastify({ logger: false });
  app.setErrorHandler(errorHandler);
  await app.register(pagesPlugin, { devLogin, mintToken: async (request) => (minted.push(request), `token-for-${request.role}`) });
  await app.ready();
  return { app, minted };
}

describe('pages plugin', () => {
  test('serves each page and its assets with a same-origin-only content security policy', async () => {
    const { app } = await pagesApp(false);
    try {
      for (const url of ['/login', '/board/5b0f7c39-60a4-4a52-8a57-2a0d1e6f2f11', '/courier', '/track/5b0f7c39-60a4-4a52-8a57-2a0d1e6f2f11']) {
        const res = await app.inject({ url });
        assert.equal(res.statusCode, 200, url);
        assert.match(res.headers['content-type'] as string, /^text\/html/);
        assert.match(res.headers['content-security-policy'] as string, /default-src 'none'; script-src 'self'.*connect-src 'self'/);
        assert.equal(res.headers['x-content-type-options'], 'nosniff');
        // A page opened from another site's page (or opening one) shares no window handle with it (before: no COOP).
        assert.equal(res.headers['cross-origin-opener-policy'], 'same-origin', url);
        // no-store: a page left is not kept (not on disk, nor in the back-forward cache, where Back after
        // "Sign out" showed it again as it was, cards and addresses included).
        assert.equal(res.headers['cache-control'], 'no-store', url);
        // Every script and stylesheet a page names is one the plugin serves.
        for (const [, asset] of res.body.matchAll(/(?:src|href)="\/web\/([^"]+)"/g)) {
          const file = await app.inject({ url: `/web/${asset}` });
          assert.equal(file.statusCode, 200, `${url} → /web/${asset}`);
        }
      }
      const js = await app.inject({ url: '/web/board.js' });
      assert.match(js.headers['content-type'] as string, /^text\/javascript/);
      const css = await app.inject({ url: '/web/app.css' });
      assert.match(css.headers['content-type'] as string, /^text\/css/);
      // The assets hold nothing of anyone: a browser may keep them, and asks each time whether they changed.
      for (const asset of [js, css]) assert.equal(asset.headers['cache-control'], 'no-cache');
    } finally {
      await app.close();
    }
  });

  test('an asset carries a strong ETag, the hash of its file, and a request that names it is answered 304 without a body (before: no validator, so every page load downloaded every asset again)', async () => {
    const { app } = await pagesApp(false);
    try {
      const root = path.resolve(import.meta.dirname, '..', '..', 'web');
      for (const asset of ['common.js', 'app.css', 'board.js', 'login.js']) {
        const url = `/web/${asset}`;
        const first = await app.inject({ url });
        assert.equal(first.statusCode, 200, url);
        const etag = first.headers.etag as string;
        assert.equal(etag, `"${createHash('sha256').update(await readFile(path.join(root, asset))).digest('base64url')}"`, `${url}: the file's own hash`);
        assert.equal(first.headers['cache-control'], 'no-cache');
        const again = await app.inject({ url, headers: { 'if-none-match': etag } });
        assert.equal(again.statusCode, 304, url);
        assert.equal(again.body, '', `${url}: no body`);
        assert.equal(again.headers.etag, etag);
        assert.equal(again.headers['cache-control'], 'no-cache');
        assert.match(again.headers['content-security-policy'] as string, /default-src 'none'/);
        // A weak comparison (RFC 9110 §13.1.2), a list, and `*` match too; another tag does not.
        for (const header of [`W/${etag}`, `"other", ${etag}`, '*']) assert.equal((await app.inject({ url, headers: { 'if-none-match': header } })).statusCode, 304, `${url}: ${header}`);
        const changed = await app.inject({ url, headers: { 'if-none-match': '"an-older-version"' } });
        assert.equal(changed.statusCode, 200, url);
        assert.equal(changed.body, first.body);
      }
      // Pages are not kept at all (no-store): they get no validator.
      assert.equal((await app.inject({ url: '/login' })).headers.etag, undefined);
    } finally {
      await app.close();
    }
  });

  test('serves nothing outside its allow-list', async () => {
    const { app } = await pagesApp(false);
    try {
      for (const url of ['/web/..%2F..%2Fpackage.json', '/web/board.html', '/web/missing.js', '/web/%2e%2e%2fsrc%2fapi%2fpages.ts']) {
        assert.equal((await app.inject({ url })).statusCode, 404, url);
      }
      assert.equal((await app.inject({ url: '/board/not-a-uuid' })).statusCode, 200, 'the page itself explains a bad id');
    } finally {
      await app.close();
    }
  });

  test('the development login exists only with devLogin', async () => {
    const off = await pagesApp(false);
    try {
      assert.equal((await off.app.inject({ url: '/dev-login' })).statusCode, 404);
      assert.equal((await off.app.inject({ url: '/web/dev-login.js' })).statusCode, 404);
      assert.equal((await off.app.inject({ method: 'POST', url: '/dev/tokens', payload: { role: 'admin' } })).statusCode, 404);
      assert.deepEqual(off.minted, []);
    } finally {
      await off.app.close();
    }
    const on = await pagesApp(true);
    try {
      assert.equal((await on.app.inject({ url: '/dev-login' })).statusCode, 200);
      const rid = '5b0f7c39-60a4-4a52-8a57-2a0d1e6f2f11';
      const staff = await on.app.inject({ method: 'POST', url: '/dev/tokens', payload: { role: 'staff', restaurantId: rid } });
      assert.equal(staff.statusCode, 201, staff.body);
      assert.equal(staff.json().token, 'token-for-staff');
      assert.equal(staff.headers['cache-control'], 'no-store');
      assert.equal(on.minted[0]?.restaurantId, rid);
      const noRestaurant = await on.app.inject({ method: 'POST', url: '/dev/tokens', payload: { role: 'staff' } });
      assert.equal(noRestaurant.statusCode, 400);
      assert.equal(noRestaurant.json().field, 'body.restaurantId');
      const badSubject = await on.app.inject({ method: 'POST', url: '/dev/tokens', payload: { role: 'courier', subject: 'bob' } });
      assert.equal(badSubject.statusCode, 400);
      const courier = await on.app.inject({ method: 'POST', url: '/dev/tokens', payload: { role: 'courier' } });
      assert.match(courier.json().subject, /^[0-9a-f-]{36}$/, 'a courier without a subject gets a new UUID');
      assert.equal((await on.app.inject({ method: 'POST', url: '/dev/tokens', payload: { role: 'root' } })).statusCode, 400);
      assert.equal(on.minted.length, 2);
      // A page whose own name resolves to 127.0.0.1 (DNS rebinding) calls the route as same-origin, its name in Host: refused.
      for (const host of ['evil.example', 'evil.example:3000', 'localhost.evil.example', '127.0.0.1.nip.io:3000']) {
        const refused = await on.app.inject({ method: 'POST', url: '/dev/tokens', headers: { host }, payload: { role: 'admin' } });
        assert.deepEqual([refused.statusCode, refused.json().code], [403, 'DEV_LOGIN_HOST_REFUSED'], host);
      }
      assert.match((await on.app.inject({ method: 'POST', url: '/dev/tokens', headers: { host: 'evil.example' }, payload: { role: 'admin' } })).json().detail, /only for a page opened at localhost, 127\.0\.0\.1 or \[::1\]/);
      assert.equal(on.minted.length, 2, 'nothing minted for them');
      for (const host of ['localhost', 'localhost:3000', '127.0.0.1:8080', '[::1]:3000', 'LOCALHOST:3000']) {
        const minted = await on.app.inject({ method: 'POST', url: '/dev/tokens', headers: { host }, payload: { role: 'admin' } });
        assert.equal(minted.statusCode, 201, `${host}: ${minted.body}`);
      }
    } finally {
      await on.app.close();
    }
  });
});
