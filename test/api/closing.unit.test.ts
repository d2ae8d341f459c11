import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { test } from 'node:test';
import type { FastifyPluginAsync } from 'fastify';
import client from 'prom-client';
import { buildApp } from '../../src/api/index.ts';

test('a request in flight when the app closes is answered with Connection: close, so its keep-alive connection does not hold the close', async () => {
  let arrived!: () => void;
  const inFlight = new Promise<void>((resolve) => (arrived = resolve));
  let release!: () => void;
  const held = new Promise<void>((resolve) => (release = resolve));
  const routes: FastifyPluginAsync = async (v1) => {
    v1.get('/held', async () => {
      arrived();
      await held;
      return { ok: true };
    });
  };
  const app = await buildApp({ bodyLimit: 1024, logger: false, metrics: new client.Registry(), readiness: async () => ({ ok: true, checks: {} }), services: [{ name: 'probe', routes }] });
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const response = fetch(`${address}/v1/held`);
  await inFlight;
  const closed = app.close();
  // Answer only once the close is under way: the server has stopped listening.
  while (app.server.listening) await sleep(5);
  release();
  const answer = await response;
  // Before, it said keep-alive: the client kept the connection, and close() waited 72 s for it to time out.
  assert.equal(answer.headers.get('connection'), 'close');
  assert.deepEqual(await answer.json(), { ok: true });
  await closed;
});
