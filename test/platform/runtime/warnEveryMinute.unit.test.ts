import assert from 'node:assert/strict';
import { test } from 'node:test';
import { warnEveryMinute } from '../../../src/platform/runtime/index.ts';

test('a loop in trouble warns once per interval, with what failed and what to do', async () => {
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  try {
    const warn = warnEveryMinute('ordering outbox relay', 'see brigade_outbox_depth', 200);
    warn(new Error('JetStream did not ack within 5000 ms'));
    warn(new Error('again'));
    warn('and again');
    await new Promise((r) => setTimeout(r, 250));
    warn(new Error('later'));
    await new Promise((r) => setImmediate(r)); // warnings are emitted on the next tick
    assert.deepEqual(warnings, [
      'ordering outbox relay: JetStream did not ack within 5000 ms; retrying (see brigade_outbox_depth)',
      'ordering outbox relay: later; retrying (see brigade_outbox_depth)',
    ]);
  } finally {
    process.off('warning', onWarning);
  }
});
