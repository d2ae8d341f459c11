import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { runMain } from '../support/cli.ts';
import { createTestDatabase } from '../support/db.ts';

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

// Found by a review: a Ctrl+C just after brigade start's migrations finished still started the stand-in
// payment provider (only the platform, after it, checked for the signal).
test("Ctrl+C just as brigade start's migrations finish starts nothing more: not the payment provider", async () => {
  const database = await createTestDatabase();
  const listening = { SIGINT: process.listeners('SIGINT'), SIGTERM: process.listeners('SIGTERM') };
  try {
    const { main } = await import('../../src/cli/main.ts');
    const out: string[] = [];
    const err: string[] = [];
    const env = { LOG_LEVEL: 'warn', DATABASE_URL: database.url, PORT: '0', PROVIDER_PORT: '0', BRIGADE_SECRET: 'x'.repeat(40) };
    const code = await main(['start'], env, {
      out: (line) => {
        out.push(line);
        // The migrations' last line: the signal comes as they return.
        if (line.startsWith('nothing to apply')) process.emit('SIGINT', 'SIGINT');
      },
      err: (line) => err.push(line),
    });
    const output = `${out.join('\n')}\n${err.join('\n')}`;
    assert.equal(code, 130, output);
    assert.doesNotMatch(output, /payment provider at/);
    assert.match(err.join('\n'), /^brigade start: interrupted by SIGINT before it finished; nothing to fix: run it again$/m);
  } finally {
    // The second-signal handlers the command left: a later signal must not end the test runner.
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      for (const listener of process.listeners(signal)) if (!listening[signal].includes(listener)) process.off(signal, listener);
    }
    await database.drop();
  }
});
