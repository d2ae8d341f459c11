import assert from 'node:assert/strict';
import { randomBytes, scryptSync } from 'node:crypto';
import { test } from 'node:test';
import { hashPassword, PASSWORD_LENGTH, passwordNeedsRehash, SCRYPT_PARAMETERS, verifyPassword } from '../../../src/platform/auth/index.ts';

test('a hash records scrypt and its parameters, salt and key in base64, never the password; a new salt each time', async () => {
  const stored = await hashPassword('correct horse battery staple');
  assert.deepEqual(SCRYPT_PARAMETERS, { N: 2 ** 15, r: 8, p: 1, saltBytes: 16, keyBytes: 64 });
  const [scheme, n, r, p, salt, key, ...rest] = stored.split('$');
  assert.deepEqual([scheme, n, r, p, rest], ['scrypt', '32768', '8', '1', []]);
  assert.equal(Buffer.from(salt!, 'base64').length, 16);
  assert.equal(Buffer.from(key!, 'base64').length, 64);
  assert.ok(!stored.includes('correct horse'));
  assert.notEqual(await hashPassword('correct horse battery staple'), stored);
});

test('verifyPassword: the password verifies, any other does not (nor one that differs in case or by a space)', async () => {
  const stored = await hashPassword('correct horse battery staple');
  assert.equal(await verifyPassword('correct horse battery staple', stored), true);
  for (const other of ['Correct horse battery staple', 'correct horse battery staple ', '', 'x'.repeat(200)]) assert.equal(await verifyPassword(other, stored), false, other);
});

test('a password is taken in its Unicode NFC form: a composed and a decomposed é are the same password', async () => {
  const stored = await hashPassword('caf\u00e9 au lait');
  assert.equal(await verifyPassword('cafe\u0301 au lait', stored), true);
});

test('a hash made with older (weaker) parameters still verifies, and is due for a rehash; a current one is not', async () => {
  const salt = randomBytes(16);
  const old = `scrypt$16384$8$1$${salt.toString('base64')}$${scryptSync('old password 1', salt, 32, { N: 16384, r: 8, p: 1 }).toString('base64')}`;
  assert.equal(await verifyPassword('old password 1', old), true);
  assert.equal(await verifyPassword('old password 2', old), false);
  assert.equal(passwordNeedsRehash(old), true);
  assert.equal(passwordNeedsRehash(await hashPassword('new password')), false);
});

test('verifyPassword without a stored hash does the same work and answers false', async () => {
  assert.equal(await verifyPassword('any password', null), false);
});

test('a stored value that is not a hash of ours, or asks for unbounded work, is refused loudly, never taken as a match', async () => {
  for (const bad of ['plain', 'bcrypt$x', 'scrypt$32768$8$1$c2FsdA==', 'scrypt$1073741824$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==', 'scrypt$1000$8$1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA==']) {
    await assert.rejects(verifyPassword('plain', bad), /not a password hash/, bad);
  }
});

test('PASSWORD_LENGTH is 8 to 200 characters', () => {
  assert.deepEqual(PASSWORD_LENGTH, { min: 8, max: 200 });
});
