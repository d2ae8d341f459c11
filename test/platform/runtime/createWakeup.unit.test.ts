import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createWakeup } from '../../../src/platform/runtime/index.ts';

const LONG = 60_000;

test('a wake ends the wakeable wait running now', async () => {
  const wakeup = createWakeup(new AbortController().signal);
  const waiting = wakeup.wait(LONG);
  wakeup.wake();
  await waiting;
});

test('a wake while nobody waits is remembered for the next wakeable wait, once', async () => {
  const stop = new AbortController();
  const wakeup = createWakeup(stop.signal);
  wakeup.wake();
  await wakeup.wait(LONG);
  let ended = false;
  const second = wakeup.wait(LONG).then(() => (ended = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(ended, false, 'the remembered wake was used up by the first wait');
  stop.abort();
  await second;
});

test('a wait with wakeable: false runs its time out and leaves the wake for the next wakeable one', async (t) => {
  // Mocked setTimeout: the clock moves only on tick(), so the check is on the promise's state, not on timing.
  t.mock.timers.enable({ apis: ['setTimeout'] });
  const settled = () => new Promise((r) => setImmediate(r)); // setImmediate is not mocked
  const wakeup = createWakeup(new AbortController().signal);
  let paced = false;
  const pacing = wakeup.wait(30, { wakeable: false }).then(() => (paced = true));
  wakeup.wake();
  await settled();
  assert.equal(paced, false, 'the wake did not cut the pacing wait short');
  t.mock.timers.tick(29);
  await settled();
  assert.equal(paced, false, 'nor did anything before its time');
  t.mock.timers.tick(1);
  await pacing;
  let woken = false;
  const next = wakeup.wait(LONG).then(() => (woken = true));
  await settled();
  assert.equal(woken, true, 'the next wakeable wait ended at once: the wake was kept');
  await next;
});

test('an abort ends any wait, and later waits return at once', async () => {
  const stop = new AbortController();
  const wakeup = createWakeup(stop.signal);
  const waiting = wakeup.wait(LONG, { wakeable: false });
  stop.abort();
  await waiting;
  await wakeup.wait(LONG);
});
