import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { watchLockWaits } from '../../src/platform/migrations/watchLockWaits.ts';

test('a watch stopped while its side session is still connecting ends at once, its connection closed', async () => {
  // A port that takes the connection and never answers: the side session stays connecting. pg's
  // connect() never settles once end() is called on it then, so a stop that waited for it hung the run.
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    // Read (and drop) what the client sends, so that its end is seen.
    socket.resume();
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  try {
    const watch = watchLockWaits(`postgres://nobody@127.0.0.1:${port}/none`, 1, { afterMs: 0, connectTimeoutMs: 60_000 });
    for (let i = 0; sockets.size === 0; i++) {
      assert.ok(i < 250, 'the watch never connected');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const started = performance.now();
    const stopped = await Promise.race([watch.stop(), new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 3000).unref())]);
    assert.deepEqual(stopped, [], 'stop() returned the (empty) list');
    assert.ok(performance.now() - started < 3000);
    for (let i = 0; sockets.size > 0; i++) {
      assert.ok(i < 100, 'the side connection was left open');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.deepEqual(await watch.stop(), [], 'a second stop returns the same');
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
