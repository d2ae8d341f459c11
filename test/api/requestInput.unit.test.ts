import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nulCharacterAt } from '../../src/api/requestInput.ts';

test('nulCharacterAt finds U+0000 in values and keys at any depth, and walks a body nested far deeper than the call stack (before: a RangeError, answered 500)', () => {
  assert.equal(nulCharacterAt({ a: [{ b: 'x' }, { c: 'y\u0000' }] }, 'body'), 'body.a[1].c');
  assert.equal(nulCharacterAt({ ['k\u0000']: 1 }, 'body'), 'body.k\u0000');
  assert.equal(nulCharacterAt({ a: 'fine', n: 1, t: true, z: null }, 'body'), null);
  let deep: unknown = 'end\u0000';
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.match(nulCharacterAt(deep, 'body') ?? '', /^body(\[0\]){100000}$/);
});
