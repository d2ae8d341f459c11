import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { buildPaymentProvider, ensureProviderSchema } from '../../../../src/services/payments/provider/index.ts';
import { useTestDatabase } from '../../../support/db.ts';
import { within } from '../../../support/eventually.ts';

const database = useTestDatabase();

// Found when `brigade demo`, stopped by Ctrl+C on a loaded machine, never exited after "stopping the
// rush and the platform": the stand-in provider's close waited for a connection whose request never
// ended (its caller, a payment step, had been aborted), and Fastify's default has no request timeout.
test("the provider's close cuts a connection whose request never ends once its grace is over (before: close waited for ever)", async () => {
  const pool = database.pool(2);
  await ensureProviderSchema(pool);
  const app = await buildPaymentProvider({ pool, closeGraceMs: 200 });
  const url = new URL(await app.listen({ host: '127.0.0.1', port: 0 }));
  const socket = net.connect(Number(url.port), url.hostname);
  const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  // Headers and half the body: the request never ends.
  socket.write('POST /charges HTTP/1.1\r\nHost: provider\r\nContent-Type: application/json\r\nIdempotency-Key: k-1\r\nContent-Length: 100\r\n\r\n{"amount":');
  await new Promise((resolve) => setTimeout(resolve, 100));
  try {
    await within(app.close(), 30_000, "the provider's close");
    await within(ended, 30_000, 'the half-sent request\'s connection to be closed');
  } finally {
    socket.destroy();
  }
  assert.equal(socket.destroyed, true);
});
