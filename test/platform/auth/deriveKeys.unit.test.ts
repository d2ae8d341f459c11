import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deriveKeys } from '../../../src/platform/auth/index.ts';

const SECRET = 'a-secret-that-is-long-enough-for-hs256-signing';

test('deriveKeys: 32 bytes, the same for the same secret and purpose, another for another purpose or secret, never the secret', () => {
  const key = deriveKeys(SECRET)('customer sign-in attempts');
  assert.equal(key.length, 32);
  assert.deepEqual(deriveKeys(SECRET)('customer sign-in attempts'), key, 'every process with the secret derives the same key');
  assert.notDeepEqual(deriveKeys(SECRET)('another purpose'), key);
  assert.notDeepEqual(deriveKeys(`${SECRET}!`)('customer sign-in attempts'), key, 'a rotated secret gives another key');
  assert.ok(!key.toString('latin1').includes(SECRET.slice(0, 8)));
});
