import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { shareInFlight } from '../../../src/platform/runtime/shareInFlight.ts';

describe('shareInFlight: one call in flight, shared by the callers that overlap it', () => {
  test('calls while one runs get its promise; a call after it settled starts a new one', async () => {
    let started = 0;
    const ends: Array<(value: number) => void> = [];
    const read = shareInFlight(
      () =>
        new Promise<number>((resolve) => {
          started++;
          ends.push(resolve);
        }),
    );
    const first = read();
    const second = read();
    assert.equal(started, 1);
    ends[0]!(7);
    assert.deepEqual(await Promise.all([first, second]), [7, 7]);
    const third = read();
    assert.equal(started, 2, 'settled: a new call runs again, not the old answer');
    ends[1]!(8);
    assert.equal(await third, 8);
  });

  test('a failure goes to every caller that shared it, and the next call runs again; a synchronous throw is a rejection', async () => {
    let calls = 0;
    const read = shareInFlight(async () => {
      calls++;
      if (calls === 1) throw new Error('down');
      return calls;
    });
    const shared = [read(), read()];
    for (const p of shared) await assert.rejects(p, /down/);
    assert.equal(await read(), 2);
    const throwing = shareInFlight((): Promise<number> => {
      throw new Error('at once');
    });
    await assert.rejects(throwing(), /at once/);
  });
});
