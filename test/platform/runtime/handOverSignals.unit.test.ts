import assert from 'node:assert/strict';
import { test } from 'node:test';
import { handOverSignals } from '../../../src/platform/runtime/index.ts';

/**
 * Node has one signal watcher per signal while any listener is on it, and closes it when the last
 * goes. A signal the watcher has caught but not yet dispatched (it runs on a later turn of the event
 * loop) is dropped with it: taking the old listener out before putting the new one in loses a signal
 * that came just before the hand-over. That is how a `brigade migrate` stopped by SIGTERM right as its
 * embedded PostgreSQL started ran on to the end and exited 0 (a CI check's failure).
 */
test('a signal caught just before the hand-over reaches the new listener, never neither', async () => {
  const got: string[] = [];
  const from = () => got.push('from');
  const to = () => got.push('to');
  process.on('SIGTERM', from);
  try {
    process.kill(process.pid, 'SIGTERM'); // caught by the watcher at once, dispatched on a later turn
    handOverSignals(['SIGTERM'], from, to);
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.deepEqual(got, ['to']);
  } finally {
    process.removeListener('SIGTERM', from);
    process.removeListener('SIGTERM', to);
  }
});

test('the new listener is on every signal named, the old one on none', () => {
  const from = () => undefined;
  const to = () => undefined;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, from);
  try {
    handOverSignals(['SIGINT', 'SIGTERM'], from, to);
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      assert.equal(process.listeners(signal).includes(to), true);
      assert.equal(process.listeners(signal).includes(from), false);
    }
  } finally {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.removeListener(signal, from);
      process.removeListener(signal, to);
    }
  }
});
