import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay, newMessageId } from '../../../src/platform/messaging/index.ts';

test('backoff doubles per attempt, is capped, and jitters within the upper half of the step', () => {
  const o = { initialMs: 100, factor: 2, maxMs: 1000 };
  assert.deepEqual([1, 2, 3, 4, 5].map((a) => backoffDelay(a, o, () => 0)), [50, 100, 200, 400, 500]);
  assert.deepEqual([1, 2, 3, 4, 5].map((a) => backoffDelay(a, o, () => 1)), [100, 200, 400, 800, 1000]);
  assert.equal(backoffDelay(3, o, () => 0.5), 300);
});

test('message ids are UUID v7 and sort by creation time', () => {
  const a = newMessageId(1_700_000_000_000);
  const b = newMessageId(1_700_000_000_001);
  assert.match(a, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.ok(a < b);
  assert.equal(parseInt(a.replaceAll('-', '').slice(0, 12), 16), 1_700_000_000_000);
});
