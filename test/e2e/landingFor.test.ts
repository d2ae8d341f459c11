import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';

// web/common.js is the browser's module, served as it is; its sign-in redirect is plain logic, tested here in Node.
const ORIGIN = 'http://127.0.0.1:3000';
Object.assign(globalThis, { window: { location: { origin: ORIGIN }, atob: (text: string) => Buffer.from(text, 'base64').toString('latin1') } });
const commonJs = pathToFileURL(path.resolve(import.meta.dirname, '..', '..', 'web', 'common.js')).href;
const { landingFor } = (await import(commonJs)) as { landingFor(token: string, next: string | null, origin?: string): string | null };

const tokenOf = (claims: Record<string, unknown>) => `x.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.y`;
const staff = tokenOf({ role: 'staff', rid: 'r1' });

describe('landingFor: where the sign-in pages go next', () => {
  test('a path on the platform is kept, with its query', () => {
    assert.equal(landingFor(staff, '/board/r2'), '/board/r2');
    assert.equal(landingFor(staff, '/track/o1?from=mail#top'), '/track/o1?from=mail#top');
  });
  for (const next of ['/\\evil.example/x', '/\\/evil.example', '//evil.example/x', '/\t/evil.example', '/\n/evil.example', 'https://evil.example/', 'javascript:alert(1)', '/login?next=/board/r2', '/dev-login', '/board/../login',
    // The URL parser removes dot-segments: each of these became the path `//evil.example/…`, which the
    // browser then read as another host (before: `/.//evil.example/phish` landed on evil.example).
    '/.//evil.example/phish', '/..//evil.example', '/board/..//evil.example', '/%2e%2e//evil.example', '/%2E//evil.example', '/././/evil.example']) {
    test(`${JSON.stringify(next)} is not followed: the token's own page instead`, () => {
      const target = landingFor(staff, next);
      assert.equal(target, '/board/r1');
      assert.equal(new URL(target as string, ORIGIN).origin, ORIGIN);
    });
  }
  test('no next: the page of the role, none for a customer', () => {
    assert.equal(landingFor(staff, null), '/board/r1');
    assert.equal(landingFor(tokenOf({ role: 'courier' }), null), '/courier');
    assert.equal(landingFor(tokenOf({ role: 'customer' }), null), null);
  });
});
