import assert from 'node:assert/strict';
import { test } from 'node:test';
import { requestValidators, storableCopy, unstorableTextAt } from '../../src/api/requestInput.ts';

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

test('storableCopy writes U+0000 and lone surrogates as their escapes in every string and key, at any depth, and leaves the rest and the original alone', () => {
  const sent = { params: { id: '\u0000' }, query: { city: 'a\u0000b', ['k\u0000']: ['x\ud800', '\udc00y', 'pizza \ud83c\udf55'] }, n: 1, t: true, z: null };
  const copy = storableCopy(sent);
  assert.deepEqual(copy, { params: { id: '\\u0000' }, query: { city: 'a\\u0000b', ['k\\u0000']: ['x\\ud800', '\\udc00y', 'pizza \ud83c\udf55'] }, n: 1, t: true, z: null });
  assert.equal(unstorableTextAt(copy, 'target'), null);
  assert.equal(sent.params.id, '\u0000', 'the request keeps what it was sent');
  // A query string as Fastify parses it (fast-querystring: an object whose prototype has no prototype),
  // members in their order; a __proto__ key, which such an object can hold, stays a member.
  const query = Object.assign(Object.create(Object.create(null) as object) as Record<string, unknown>, { b: '1', a: '2', ['__proto__']: 'p\u0000' });
  const keys = storableCopy(query);
  assert.deepEqual(Object.keys(keys), ['b', 'a', '__proto__']);
  assert.equal(JSON.stringify(keys), '{"b":"1","a":"2","__proto__":"p\\\\u0000"}');
  // Objects that are not plain data keep their own JSON (a Date), and a deep value does not overflow the stack.
  const at = new Date(0);
  assert.equal(storableCopy({ at }).at, at);
  let deep: unknown = 'end\u0000';
  for (let i = 0; i < 100_000; i++) deep = [deep];
  let inner = storableCopy(deep);
  for (let i = 0; i < 100_000; i++) inner = (inner as unknown[])[0];
  assert.equal(inner, 'end\\u0000');
});

test('storableCopy copies an object met twice once, so a cycle ends the walk and stays a cycle (JSON refuses it as it did the original)', () => {
  const shared = { a: 'x\u0000' };
  const cyclic: Record<string, unknown> = { shared, again: shared };
  cyclic.self = cyclic;
  const copy = storableCopy(cyclic);
  assert.equal(copy.self, copy);
  assert.equal(copy.shared, copy.again);
  assert.deepEqual(copy.shared, { a: 'x\\u0000' });
  assert.throws(() => JSON.stringify(copy), TypeError);
});

test('requestValidators refuse a number that is not finite, as a query string converts it ("1e309", "-1e309", "Infinity") or a body parses it, naming the field (before: ±Infinity passed minimum and maximum, reached SQL and answered 500)', () => {
  const limit = { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 500 }, at: { type: 'array', items: { type: 'number' } } } };
  const validatorOf = (httpPart: string) => (requestValidators as unknown as (external: object) => (route: object) => ((data: unknown) => boolean) & { errors?: Array<{ instancePath: string; message?: string }> | null })({})({ schema: limit, httpPart, method: 'GET', url: '/probe' });
  const query = validatorOf('querystring');
  for (const sent of ['1e309', '-1e309', 'Infinity', '-Infinity', 'NaN', '1e3', '0']) {
    assert.equal(query({ limit: sent }), false, `limit=${sent}`);
    assert.equal(query.errors?.[0]?.instancePath, '/limit', `limit=${sent}`);
  }
  const converted = { limit: '5', at: ['1.5', '1e309'] };
  assert.equal(query(converted), false, 'a non-finite item of an array');
  assert.equal(query.errors?.[0]?.instancePath, '/at/1');
  assert.match(query.errors?.[0]?.message ?? '', /finite/);
  const fine = { limit: '5e2', at: ['-2', '1e308'] };
  assert.equal(query(fine), true, JSON.stringify(query.errors));
  assert.deepEqual(fine, { limit: 500, at: [-2, 1e308] });
  // Params and headers are converted as the query string is.
  const params = validatorOf('params');
  assert.equal(params({ limit: 'Infinity' }), false);
  const body = validatorOf('body');
  for (const sent of [JSON.parse('1e309') as number, -Infinity, NaN]) {
    assert.equal(body({ limit: sent }), false, `{"limit": ${sent}}`);
    assert.equal(body({ at: [1, sent] }), false, `{"at": [1, ${sent}]}`);
  }
  assert.equal(body({ limit: 7, at: [0.5] }), true);
});
