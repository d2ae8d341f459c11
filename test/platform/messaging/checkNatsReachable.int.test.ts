import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { checkNatsReachable } from '../../../src/platform/messaging/index.ts';

/**
 * A NATS server that answers its INFO only after `delayMs` (a slow link, a slow TLS handshake), then
 * the client's PING: what a connection needs to be made.
 */
async function slowNats(delayMs: number): Promise<{ url: string; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.write('INFO {"server_id":"slow","version":"2.9.0","proto":1,"headers":true,"max_payload":1048576}\r\n'), delayMs);
    socket.on('data', (chunk) => {
      if (chunk.toString().includes('PING')) socket.write('PONG\r\n');
    });
    socket.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `nats://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

// Found by the session's adversarial review: the start-up check gave a server 5 s where the transport
// it stands in for waits 20 s (nats.js's default), so `brigade start` refused a NATS the transport takes.
test('the start-up check takes a NATS server that answers after 6 s, as the transport would', async () => {
  const nats = await slowNats(6000);
  try {
    await checkNatsReachable(nats.url);
  } finally {
    nats.close();
  }
});

test('a NATS_URL nobody listens at is refused at once, saying NATS is not reachable', async () => {
  const nobody = await slowNats(0);
  const url = nobody.url;
  nobody.close();
  await assert.rejects(checkNatsReachable(url), /NATS is not reachable/);
});
