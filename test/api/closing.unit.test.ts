import assert from 'node:assert/strict';
import { connect, type AddressInfo, type Socket } from 'node:net';
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

/** Opens a connection that sends a request's headers and part of its body, then nothing more. */
function halfSent(port: number): Promise<{ socket: Socket; answer: Promise<string> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      socket.write('POST /v1/anything HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"na');
      resolve({ socket, answer });
    });
    let got = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (got += chunk));
    const answer = new Promise<string>((done) => socket.on('close', () => done(got)));
    socket.on('error', reject);
  });
}

const quiet = { bodyLimit: 1024, logger: false, readiness: async () => ({ ok: true, checks: {} }) } as const;

test('a request whose body stops arriving gets 408 REQUEST_TIMEOUT instead of holding its connection for ever', { timeout: 30_000 }, async (t) => {
  const app = await buildApp({ ...quiet, metrics: new client.Registry(), requestTimeoutMs: 200 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  t.after(() => app.close());
  const { socket, answer } = await halfSent((app.server.address() as AddressInfo).port);
  t.after(() => socket.destroy());
  // Before, Fastify's default (no request timeout) kept it open until the client gave up.
  const [head = '', body = ''] = (await answer).split('\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 408 Request Timeout\r\n/);
  const problem = JSON.parse(body) as Record<string, unknown>;
  assert.deepEqual([problem.status, problem.code], [408, 'REQUEST_TIMEOUT']);
});

test('close() ends, after its grace, a connection whose request never arrives in full', { timeout: 30_000 }, async (t) => {
  const app = await buildApp({ ...quiet, metrics: new client.Registry(), requestTimeoutMs: 600_000, closeGraceMs: 100 });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { socket, answer } = await halfSent((app.server.address() as AddressInfo).port);
  t.after(() => socket.destroy());
  // Before, close() (and so a Ctrl+C of brigade serve) waited for as long as the client kept sending nothing.
  await app.close();
  await answer;
});
