import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { wakeableSleep } from '../../../src/platform/runtime/wakeableSleep.ts';

/** Whether `promise` has settled by the end of the current turn's microtasks and one timer tick. */
const settled = async (promise: Promise<unknown>) => {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
};

describe('wakeableSleep: a wait its timer, an abort or wake() ends', () => {
  test('wake() ends a running wait and says so; once ended, it says it was not running', async () => {
    const pause = wakeableSleep(60_000);
    assert.equal(await settled(pause.done), false);
    assert.equal(pause.wake(), true);
    assert.equal(await settled(pause.done), true);
    assert.equal(pause.wake(), false);
  });

  test('the timer ends it, after which wake() reports it had ended', async () => {
    const pause = wakeableSleep(5);
    await pause.done;
    assert.equal(pause.wake(), false);
  });

  test('any of its signals ends it, at once when one has already aborted; absent signals are ignored', async () => {
    const first = new AbortController();
    const second = new AbortController();
    const pause = wakeableSleep(60_000, first.signal, undefined, second.signal);
    assert.equal(await settled(pause.done), false);
    second.abort();
    assert.equal(await settled(pause.done), true);
    assert.equal(pause.wake(), false);

    const aborted = AbortSignal.abort();
    const late = wakeableSleep(60_000, aborted);
    assert.equal(await settled(late.done), true);
    assert.equal(late.wake(), false);
  });
});
