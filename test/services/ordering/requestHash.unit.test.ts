import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { newDataKey, subjectDigest } from '../../../src/platform/temporal/index.ts';
import { canonicalJson, PLACEMENT_HASH_PURPOSE, placementHashes, requestHash } from '../../../src/services/ordering/requestHash.ts';

test('request hash: key order and spacing do not matter; any value, array order or extra field does', () => {
  const a = { restaurantId: 'r', lines: [{ itemId: 'i', quantity: 1, modifierIds: ['x', 'y'] }], deliveryAddress: 'A' };
  const b = JSON.parse('{ "deliveryAddress": "A", "lines": [ { "quantity": 1, "modifierIds": ["x","y"], "itemId": "i" } ], "restaurantId": "r" }');
  assert.equal(canonicalJson(a), canonicalJson(b));
  assert.ok(requestHash(a).equals(requestHash(b)));
  assert.equal(requestHash(a).length, 32);
  for (const other of [
    { ...a, deliveryAddress: 'B' },
    { ...a, lines: [{ itemId: 'i', quantity: 2, modifierIds: ['x', 'y'] }] },
    { ...a, lines: [{ itemId: 'i', quantity: 1, modifierIds: ['y', 'x'] }] },
    { ...a, note: 'extra' },
  ]) {
    assert.ok(!requestHash(a).equals(requestHash(other)), canonicalJson(other));
  }
});

test('placement hashes: modifiers hashed sorted, so their order does not matter; the unkeyed hashes that keys claimed before hold still match', () => {
  const key = { keyId: 'customer:c', key: newDataKey() };
  const body = (modifierIds: string[]) => ({ restaurantId: 'r', deliveryAddress: 'A', lines: [{ itemId: 'i', quantity: 1, modifierIds }, { itemId: 'j', quantity: 1, modifierIds: [] }] });
  const sorted = placementHashes(body(['x', 'y']), key);
  const unsorted = placementHashes(body(['y', 'x']), key);
  assert.ok(sorted.hash.equals(unsorted.hash));
  assert.equal(sorted.hash.length, 32);
  assert.ok(sorted.matches(sorted.hash) && unsorted.matches(sorted.hash));
  assert.ok(sorted.matches(requestHash(body(['x', 'y']))) && unsorted.matches(requestHash(body(['x', 'y']))), 'a key claimed before the hash was keyed');
  assert.ok(unsorted.matches(requestHash(body(['y', 'x']))), 'and one claimed before modifiers were sorted');
  assert.ok(!sorted.matches(requestHash(body(['y', 'x']))), 'a body sent sorted was never hashed unsorted');
  assert.ok(!sorted.matches(placementHashes(body(['x', 'z']), key).hash) && !sorted.matches(requestHash(body(['x', 'z']))));
  assert.ok(!placementHashes(body(['x', 'z']), key).hash.equals(sorted.hash), 'another choice is another request');
  assert.ok(!placementHashes({ ...body(['x', 'y']), deliveryAddress: 'B' }, key).hash.equals(sorted.hash), 'another address too');
  // Lines keep their order: they are the order's lines, in order.
  const swapped = { ...body(['x', 'y']), lines: [...body(['x', 'y']).lines].reverse() };
  assert.ok(!placementHashes(swapped, key).hash.equals(sorted.hash));
});

test("placement hashes are keyed by the customer's data key: no unkeyed hash of the body, and another key (another customer's, or none once erased) gives another hash", () => {
  const body = { restaurantId: 'r', deliveryAddress: 'Rua 1, Porto', lines: [{ itemId: 'i', quantity: 1, modifierIds: [] }] };
  const key = { keyId: 'customer:c', key: newDataKey() };
  const { hash } = placementHashes(body, key);
  assert.ok(hash.equals(placementHashes(body, { ...key }).hash), 'the same key, the same hash: a retry is recognised');
  assert.ok(!hash.equals(requestHash(body)), 'not the SHA-256 anyone can compute from a guess of the body');
  assert.ok(!hash.equals(createHmac('sha256', key.key).update(canonicalJson(body)).digest()), 'nor an HMAC under the data key itself: a key derived for the purpose');
  assert.ok(hash.equals(subjectDigest(key, PLACEMENT_HASH_PURPOSE, canonicalJson(body))));
  assert.ok(!hash.equals(placementHashes(body, { keyId: 'customer:d', key: newDataKey() }).hash));
});
