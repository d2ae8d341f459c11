import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { migrationStatus } from '../../src/platform/migrations/index.ts';
import { useTestDatabase } from '../support/db.ts';

const database = useTestDatabase();

/**
 * A proxy to the test database that drops both sides of a connection as soon as the client sends a
 * statement containing `marker`: the server gone in the middle of `brigade migrate status`.
 */
async function droppingProxy(url: string, marker: string): Promise<{ url: string; close: () => Promise<void> }> {
  const target = new URL(url);
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname);
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('data', (chunk: Buffer) => (chunk.includes(marker) ? drop() : upstream.write(chunk)));
    upstream.on('data', (chunk: Buffer) => client.write(chunk));
    client.on('close', drop);
    upstream.on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String((server.address() as net.AddressInfo).port);
  return {
    url: proxied.toString(),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

test('a connection dropped while migrate status reads is a rejected promise, not an unhandled error event that ends the process', async () => {
  const proxy = await droppingProxy(database.db.url, 'to_regclass');
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  process.on('uncaughtException', onUncaught);
  try {
    await assert.rejects(migrationStatus({ url: proxy.url, sets: [] }), /Connection terminated|terminated unexpectedly|ECONNRESET/i);
    // An 'error' event without a listener is thrown from the socket's callbacks: give them their turn.
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.deepEqual(uncaught, []);
  } finally {
    process.off('uncaughtException', onUncaught);
    await proxy.close();
  }
});
