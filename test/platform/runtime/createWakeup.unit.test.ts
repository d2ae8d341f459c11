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

test('a wait with wakeable: false runs its time out and leaves the wake for the next wakeable one', async () => {
  const wakeup = createWakeup(new AbortController().signal);
  const started = performance.now();
  const pacing = wakeup.wait(30, { wakeable: false });
  wakeup.wake();
  await pacing;
  assert.ok(performance.now() - started >= 25, 'the pacing wait was not cut short');
  await wakeup.wait(LONG); // ends at once: the wake was kept
});

test('an abort ends any wait, and later waits return at once', async () => {
  const stop = new AbortController();
  const wakeup = createWakeup(stop.signal);
  const waiting = wakeup.wait(LONG, { wakeable: false });
  stop.abort();
  await waiting;
  await wakeup.wait(LONG);
});
