import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { waitUntil } from '../../src/cli/demo/waitUntil.ts';

// Found by a review of the CLI: the demo's "order 7 has waited 10 s for its payment (authorized): is the
// payment provider up?" came on the very answer that ended the wait, the payment authorized.
describe("the demo's wait for an answer, and its word when the wait is long", () => {
  /** Answers `answers` in turn, the second one after `lateMs` (so it comes past the wait's `afterMs`). */
  const reader = (answers: readonly string[], lateMs: number) => {
    let n = 0;
    return async () => {
      const answer = answers[Math.min(n, answers.length - 1)] as string;
      if (n++ === 1) await sleep(lateMs);
      return answer;
    };
  };

  test('the answer that ends the wait is not called slow, however late it comes', async () => {
    const slow: string[] = [];
    const ended = await waitUntil('the payment', reader(['authorizing', 'authorized'], 300), (p) => p !== 'authorizing', {
      deadline: Date.now() + 10_000,
      slow: { afterMs: 100, onSlow: (p) => slow.push(p) },
    });
    assert.equal(ended, 'authorized');
    // Before: ['authorized'].
    assert.deepEqual(slow, []);
  });

  test('an answer still not done past afterMs is said once, with that answer; the wait goes on to the end', async () => {
    const slow: string[] = [];
    const ended = await waitUntil('the payment', reader(['authorizing', 'authorizing', 'authorizing', 'authorized'], 300), (p) => p !== 'authorizing', {
      deadline: Date.now() + 10_000,
      slow: { afterMs: 100, onSlow: (p) => slow.push(p) },
    });
    assert.equal(ended, 'authorized');
    assert.deepEqual(slow, ['authorizing']);
  });

  test('past the deadline it gives up, naming what it waited for', async () => {
    await assert.rejects(waitUntil('a courier', async () => null, (v) => v !== null, { deadline: Date.now() + 120 }), /^Error: gave up waiting for a courier$/);
  });
});
