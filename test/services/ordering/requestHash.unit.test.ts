import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalJson, requestHash } from '../../../src/services/ordering/requestHash.ts';

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
