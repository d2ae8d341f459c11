import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runMain } from '../support/cli.ts';

test('an error that surfaces after Ctrl+C is reported as the interruption (exit 130), not as a fault to fix', async () => {
  // The start-up fails after the signal: its database (a server that takes connections and never
  // answers) drops them only once Ctrl+C was given, so that failure is the interruption's. (A taken
  // PORT no longer does: start and serve refuse it before they open the database, before any signal;
  // and start's migrations say their own interruption.)
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const before = process.listenerCount('SIGINT');
  try {
    const url = `postgres://postgres@127.0.0.1:${(silent.address() as net.AddressInfo).port}/brigade`;
    const running = runMain(['payment-provider'], { DATABASE_URL: url, PROVIDER_PORT: '0' });
    // Once the command listens for signals and waits for its database, Ctrl+C (emitted to the listeners,
    // not sent to this process); then the database goes away under the start-up's connection.
    while (process.listenerCount('SIGINT') === before || sockets.size === 0) await sleep(5);
    process.emit('SIGINT', 'SIGINT');
    for (const socket of sockets) socket.destroy();
    const result = await running;
    assert.equal(result.code, 130, result.stdout + result.stderr);
    assert.match(result.stderr, /^brigade payment-provider: interrupted by SIGINT before it finished; nothing to fix: run it again$/);
  } finally {
    // The second-signal handler the command left: a later SIGINT must not end the test runner.
    process.removeAllListeners('SIGINT');
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => silent.close(() => resolve()));
  }
});
