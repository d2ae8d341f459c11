import assert from 'node:assert/strict';
import pg from 'pg';
import { createRelay } from '../../../src/platform/outbox/index.ts';
import type { Message, OutgoingMessage, Transport } from '../../../src/platform/messaging/index.ts';
import { within } from '../../support/eventually.ts';
import { outboxRows, produce, sequencesByKey, token, waitFor } from './support.ts';

/** The xmin horizon is cluster-wide: other test files' open transactions delay delivery (decision 0011). */
const DELIVERY_MS = 100_000;
/** How long the broker is down. */
export const OUTAGE_MS = 30_000;

/**
 * Writes steps for four aggregate keys (one transaction per step) while `during` runs (the outage),
 * then checks that the relay drained them all and the consumer got every aggregate's steps in order.
 * A wait that times out says where things stood (relayed, consumed, the relay's last errors).
 */
export async function writeThroughOutage(pool: pg.Pool, transport: Transport, prefix: string, during: () => Promise<void>): Promise<void> {
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
  const state = () =>
    `${written} steps × ${keys.length} keys written, ${new Set(relayed.map((m) => m.id)).size} relayed, ${new Set(received.map((m) => m.id)).size} consumed ` +
    `(${received.length} deliveries); the relay's last errors: ${[...new Set(errors.slice(-20))].join(' | ') || 'none'}`;
  try {
    // Polled every 250 ms: reading every outbox row each 10 ms would take the CPU the relay needs.
    await waitFor('the relay drained the outbox', async () => (await outboxRows(pool)).every((r) => r.published), DELIVERY_MS, 250);
    // Counted per message id: redeliveries must not make up for a message still on its way.
    await waitFor('the consumer got everything', () => new Set(received.map((m) => m.id)).size >= keys.length * written, DELIVERY_MS, 100);
  } catch (error) {
    c.abort();
    w.abort();
    throw new Error(`${String(error)}: ${state()}`);
  }
  c.abort();
  await within(relayDone, 30_000, 'the relay to stop');
  w.abort();
  await within(worker.done, 30_000, 'the consumer to stop');
  // Delivery is at-least-once: a consumer's ack lost while the broker was down brings the message
  // back after the restart. A redelivery carries the same message id (what the inbox dedupes on), so
  // per message id every step arrives exactly once, none is lost, and first deliveries keep the order.
  const firstDeliveries = received.filter((m, i) => received.findIndex((o) => o.id === m.id) === i);
  for (const m of received) {
    const first = firstDeliveries.find((o) => o.id === m.id);
    assert.deepEqual(m.payload, first?.payload, 'a redelivery is the same message');
  }
  const steps = Array.from({ length: written }, (_, i) => i + 1);
  const relayedByKey = sequencesByKey(relayed.filter((m, i) => relayed.findIndex((o) => o.id === m.id) === i));
  for (const k of keys) assert.deepEqual(relayedByKey.get(k), steps, `the relay published aggregate ${k}'s steps in order (relay events: ${relayEvents.join(' ')})`);
  const byKey = sequencesByKey(firstDeliveries);
  for (const k of keys) {
    const got = received.filter((m) => m.key === k).map((m) => `${(m.payload as { seq: number }).seq}@${m.attempt}`);
    assert.deepEqual(byKey.get(k), steps, `aggregate ${k}: every step, once per message id, in order; consumed (seq@attempt): ${got.join(' ')}`);
  }
}
