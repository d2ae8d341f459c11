import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { announceWork, waitForWork } from '../../../src/platform/runtime/index.ts';

/** Far longer than any test: a wait that ends did so because it was woken (or aborted). */
const POLL_MS = 3_600_000;

/** A wait followed from outside: `ended` once it has resolved. */
function follow(wait: Promise<void>) {
  const state = { ended: false };
  void wait.then(() => (state.ended = true));
  return state;
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

test('an announcement wakes the longest-waiting worker of each group (database), not one of the key', async () => {
  const key = `test:${randomUUID()}`;
  const stop = new AbortController();
  try {
    // The shared database's two runners went idle first, then a dedicated database's runner.
    const shared1 = follow(waitForWork(key, POLL_MS, stop.signal));
    const shared2 = follow(waitForWork(key, POLL_MS, stop.signal, ''));
    const dedicated = follow(waitForWork(key, POLL_MS, stop.signal, 'db-1a2b3c4d'));
    announceWork(key);
    await settle();
    assert.deepEqual([shared1.ended, shared2.ended, dedicated.ended], [true, false, true], "one of the shared database's, and the dedicated database's");
    announceWork(key);
    await settle();
    assert.equal(shared2.ended, true);
  } finally {
    stop.abort();
  }
});

test('an announcement is kept per group: a group whose workers are busy gets it at its next wait, the others are woken', async () => {
  const key = `test:${randomUUID()}`;
  const stop = new AbortController();
  try {
    // Both groups have had an idle worker; the dedicated database's is busy (not waiting) now.
    const first = follow(waitForWork(key, POLL_MS, stop.signal, 'db-1a2b3c4d'));
    announceWork(key);
    await settle();
    assert.equal(first.ended, true);
    const shared = follow(waitForWork(key, POLL_MS, stop.signal));
    announceWork(key);
    await settle();
    assert.equal(shared.ended, true, "the shared database's waiting worker is woken");
    const dedicatedAgain = follow(waitForWork(key, POLL_MS, stop.signal, 'db-1a2b3c4d'));
    await settle();
    assert.equal(dedicatedAgain.ended, true, "the dedicated database's busy worker finds the kept announcement at its next wait");
    const dedicatedThird = follow(waitForWork(key, POLL_MS, stop.signal, 'db-1a2b3c4d'));
    await settle();
    assert.equal(dedicatedThird.ended, false, 'one announcement was kept, once');
  } finally {
    stop.abort();
  }
});

test('with one group (dispatch, every worker on one database), one announcement wakes one worker, and one made before any wait is kept', async () => {
  const key = `test:${randomUUID()}`;
  const stop = new AbortController();
  try {
    announceWork(key);
    const early = follow(waitForWork(key, POLL_MS, stop.signal));
    await settle();
    assert.equal(early.ended, true, 'the announcement made before any worker waited');
    const a = follow(waitForWork(key, POLL_MS, stop.signal));
    const b = follow(waitForWork(key, POLL_MS, stop.signal));
    announceWork(key);
    await settle();
    assert.deepEqual([a.ended, b.ended], [true, false]);
  } finally {
    stop.abort();
  }
});
