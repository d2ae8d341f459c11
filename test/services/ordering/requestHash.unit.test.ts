import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatPosition, parsePosition } from '../../../src/services/ordering/orderView.ts';
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

test('positions round-trip as "<transactionId>.<position>" and malformed ones are refused', () => {
  const p = { transactionId: 18446744073709551615n, position: 42n };
  assert.equal(formatPosition(p), '18446744073709551615.42');
  assert.deepEqual(parsePosition('18446744073709551615.42'), p);
  for (const bad of ['', '1', '1.', '.1', '1.2.3', 'a.b', '-1.2']) assert.equal(parsePosition(bad), null, bad);
});
