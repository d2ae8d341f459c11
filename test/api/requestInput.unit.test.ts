import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unstorableTextAt } from '../../src/api/requestInput.ts';

test('unstorableTextAt finds U+0000 in values and keys at any depth, and walks a body nested far deeper than the call stack (before: a RangeError, answered 500)', () => {
  assert.equal(unstorableTextAt({ a: [{ b: 'x' }, { c: 'y\u0000' }] }, 'body'), 'body.a[1].c');
  assert.equal(unstorableTextAt({ ['k\u0000']: 1 }, 'body'), 'body.k\u0000');
  assert.equal(unstorableTextAt({ a: 'fine', n: 1, t: true, z: null }, 'body'), null);
  let deep: unknown = 'end\u0000';
  for (let i = 0; i < 100_000; i++) deep = [deep];
  assert.match(unstorableTextAt(deep, 'body') ?? '', /^body(\[0\]){100000}$/);
});

test('unstorableTextAt finds half a surrogate pair, either half, and lets whole pairs (emoji) through', () => {
  assert.equal(unstorableTextAt({ name: 'a\ud800b' }, 'body'), 'body.name');
  assert.equal(unstorableTextAt({ name: 'end\ud800' }, 'body'), 'body.name');
  assert.equal(unstorableTextAt({ name: '\udc00x' }, 'body'), 'body.name');
  assert.equal(unstorableTextAt({ ['k\udfff']: 1 }, 'body'), 'body.k\udfff');
  assert.equal(unstorableTextAt({ name: 'pizza \ud83c\udf55 ok', other: 'ção' }, 'body'), null);
});
