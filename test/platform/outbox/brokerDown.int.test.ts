import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createNatsTransport, createPgTransport, type Message, type OutgoingMessage, type Transport } from '../../../src/platform/messaging/index.ts';
import { createRelay } from '../../../src/platform/outbox/index.ts';
import { createTestDatabase, type TestDatabase } from '../../support/db.ts';
import { requireService } from '../../support/services.ts';
import { outboxRows, produce, sequencesByKey, token, waitFor } from './support.ts';

/** The xmin horizon is cluster-wide: other test files' open transactions delay delivery (decision 0011). */
const DELIVERY_MS = 120_000;
const OUTAGE_MS = 30_000;
const NATS_SERVER = '/usr/sbin/nats-server';
const nats = await requireService('nats');
let db: TestDatabase;
let pool: pg.Pool;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 20 });
});
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
  await pool?.end();
  await db?.drop();
});

/**
 * Writes `perKey` steps for each of `keys` (one transaction per step) while `during` runs, then checks
 * that the relay drained them all and the consumer got every aggregate's steps in order.
 */
async function writeThroughOutage(transport: Transport, prefix: string, during: () => Promise<void>): Promise<void> {
  const errors: string[] = [];
  const subject = `${prefix}.${token()}.Step`;
  const subscription = `${token()}-down`;
  await transport.ensureSubscription({ subscription, pattern: subject });
  const received: Message[] = [];
  const w = new AbortController();
  const worker = transport.subscribe({ subscription, concurrency: 1, signal: w.signal }, async (m) => {
    received.push(m);
  });
  const c = new AbortController();
  // What the relay reports, so a failure tells the relay's order from the consumer's.
  const relayed: OutgoingMessage[] = [];
  const relayEvents: string[] = [];
  const relayDone = createRelay({
    pool,
    service: 'delivery',
    transport,
    lockPollMs: 50,
    onProgress: (e) => {
      if (e.kind === 'published') relayed.push(...e.messages);
      if (e.kind !== 'published' && e.kind !== 'held' && e.kind !== 'sleeping') relayEvents.push(e.kind);
      if (e.kind === 'error') errors.push(e.error instanceof Error ? `${e.error.name}: ${e.error.message}` : String(e.error));
    },
  }).run(c.signal);
  const keys = ['d1', 'd2', 'd3', 'd4'];
  let writing = true;
  let written = 0;
  const writer = (async () => {
    for (let seq = 1; writing || seq <= 3; seq++) {
      await Promise.all(keys.map((k) => produce(pool, subject, k, seq)));
      written = seq;
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  try {
    await during();
  } finally {
    writing = false;
    await writer;
  }
  await waitFor('the relay drained the outbox', async () => (await outboxRows(pool)).every((r) => r.published), DELIVERY_MS).catch((e: unknown) => {
    c.abort();
    w.abort();
    throw new Error(`${String(e)}; the relay's last errors: ${[...new Set(errors.slice(-20))].join(' | ')}`);
  });
  // Counted per message id: redeliveries must not make up for a message still on its way.
  await waitFor('the consumer got everything', () => new Set(received.map((m) => m.id)).size >= keys.length * written, DELIVERY_MS);
  c.abort();
  await relayDone;
  w.abort();
  await worker.done;
  // Delivery is at-least-once: a consumer's ack lost while the broker was down brings the message
  // back after the restart. A redelivery carries the same message id (what the inbox dedupes on), so
  // per message id every step arrives exactly once, none is lost, and first deliveries keep the order.
  const firstDeliveries = received.filter((m, i) => received.findIndex((o) => o.id === m.id) === i);
  for (const m of received) {
    const first = firstDeliveries.find((o) => o.id === m.id);
    assert.deepEqual(m.payload, first?.payload, 'a redelivery is the same message');
  }
  const steps = Array.from({ length: written }, (_, i) => i + 1);
  const relayedByKey = sequencesByKey(relayed.filter((m, i) => relayed.findIndex((o) => o.id === m.id) === i) as Message[]);
  for (const k of keys) assert.deepEqual(relayedByKey.get(k), steps, `the relay published aggregate ${k}'s steps in order (relay events: ${relayEvents.join(' ')})`);
  const byKey = sequencesByKey(firstDeliveries);
  for (const k of keys) {
    const got = received.filter((m) => m.key === k).map((m) => `${(m.payload as { seq: number }).seq}@${m.attempt}`);
    assert.deepEqual(byKey.get(k), steps, `aggregate ${k}: every step, once per message id, in order; consumed (seq@attempt): ${got.join(' ')}`);
  }
}

describe('broker down during writes', { timeout: 300_000 }, () => {
  test('PostgreSQL transport refusing publishes for 30 s: nothing is lost, order is kept, the relay drains afterwards', async () => {
    const real = createPgTransport({ pool, pollIntervalMs: 100 });
    cleanups.push(() => real.close());
    let down = false;
    let refused = 0;
    // Outside the in-database path (decision 0056): with the bus in the outbox's own database, "the
    // broker down" would be the database down, and the producers could not write either.
    const flaky: Transport = {
      ...real,
      kind: real.kind,
      busPool: undefined,
      publish: async (messages: readonly OutgoingMessage[]) => {
        if (down) {
          refused++;
          throw new Error('broker unavailable (simulated)');
        }
        await real.publish(messages);
      },
    };
    await writeThroughOutage(flaky, 'delivery', async () => {
      await new Promise((r) => setTimeout(r, 500));
      down = true;
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      down = false;
    });
    assert.ok(refused > 0, 'the relay tried during the outage');
  });

  // createNatsTransport reconnects for ever (nats.js's default of 10 attempts 2 s apart would close the
  // connection for good about 20 s into the outage, and the relay could never drain). See decision 0035.
  test('JetStream server stopped for 30 s: nothing is lost, order is kept, the relay drains after the restart', {
    skip: nats.skip,
  }, async () => {
    const port = await freePort();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'brigade-nats-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    let server: ChildProcess | null = null;
    const start = async () => {
      server = spawn(NATS_SERVER, ['-js', '-sd', dir, '-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
      const s = server;
      cleanups.push(async () => void s.kill('SIGKILL'));
      await waitFor('nats-server listens', () => canConnect(port));
    };
    const stop = async () => {
      const s = server!;
      const exited = new Promise((r) => s.once('exit', r));
      s.kill('SIGTERM');
      await exited;
    };
    await start();
    const prefix = token();
    const transport = await createNatsTransport({ servers: `nats://127.0.0.1:${port}`, pool, stream: `DOWN_${prefix.toUpperCase()}`, subjects: [`${prefix}.>`] });
    cleanups.push(() => transport.close());
    await writeThroughOutage(transport, prefix, async () => {
      await new Promise((r) => setTimeout(r, 500));
      await stop();
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      await start();
    });
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const a = srv.address();
      srv.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => resolve(false));
  });
}
