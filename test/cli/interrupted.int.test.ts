import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runMain } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();

test('an error that surfaces after Ctrl+C is reported as the interruption (exit 130), not as a fault to fix', async () => {
  // The start-up fails after the signal (its port is taken): that failure is the interruption's.
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const before = process.listenerCount('SIGINT');
  try {
    const running = runMain(['serve'], { DATABASE_URL: database.db.url, PORT: String((taken.address() as net.AddressInfo).port) });
    // Once the command listens for signals, Ctrl+C (emitted to the listeners, not sent to this process).
    while (process.listenerCount('SIGINT') === before) await sleep(5);
    process.emit('SIGINT', 'SIGINT');
    const result = await running;
    assert.equal(result.code, 130, result.stdout + result.stderr);
    assert.match(result.stderr, /^brigade serve: interrupted by SIGINT before it finished; nothing to fix: run it again$/);
  } finally {
    // The second-signal handler the command left: a later SIGINT must not end the test runner.
    process.removeAllListeners('SIGINT');
    await new Promise<void>((resolve) => taken.close(() => resolve()));
  }
});
