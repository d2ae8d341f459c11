import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson, placementHashes, requestHash } from '../../../src/services/ordering/requestHash.ts';

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

test('placement hashes: modifiers hashed sorted, so their order does not matter; the hash as sent kept for keys claimed before', () => {
  const body = (modifierIds: string[]) => ({ restaurantId: 'r', deliveryAddress: 'A', lines: [{ itemId: 'i', quantity: 1, modifierIds }, { itemId: 'j', quantity: 1, modifierIds: [] }] });
  const sorted = placementHashes(body(['x', 'y']));
  const unsorted = placementHashes(body(['y', 'x']));
  assert.ok(sorted.hash.equals(unsorted.hash));
  assert.ok(sorted.hash.equals(requestHash(body(['x', 'y']))), 'a body sent sorted hashes as it did before');
  assert.equal(sorted.asSent, null);
  assert.ok(unsorted.asSent !== null && unsorted.asSent.equals(requestHash(body(['y', 'x']))), 'the hash a key claimed before the change holds');
  assert.ok(!placementHashes(body(['x', 'z'])).hash.equals(sorted.hash), 'another choice is another request');
  // Lines keep their order: they are the order's lines, in order.
  const swapped = { ...body(['x', 'y']), lines: [...body(['x', 'y']).lines].reverse() };
  assert.ok(!placementHashes(swapped).hash.equals(sorted.hash));
});
