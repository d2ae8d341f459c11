import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS, RELAY_WORKERS } from '../../../src/composition/services.ts';
import type { OutgoingMessage, Transport } from '../../../src/platform/messaging/index.ts';
import { writeToOutbox } from '../../../src/platform/outbox/index.ts';
import { runOnEveryDatabase } from '../../../src/platform/runtime/index.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { createTestDatabase } from '../../support/db.ts';
import { startTestPlatform } from '../../support/platform.ts';

/** The relay's leader lock of an outbox (createRelay: class 'outb', hashtext of `brigade_outbox:<schema>`). */
const LEADER_LOCK = `select pg_advisory_lock(x'6f757462'::int, hashtext('brigade_outbox:ordering'))`;

// Decision 0008: outbox rows have no tenant, so the messages a restaurant wrote before its move and the
// shared relay had not yet published stay in the shared outbox, while its new ones are written in its
// own database. The new database's relay must not publish them before the shared relay has published
// the older ones: one order's events would reach consumers out of order.
test("a moved restaurant's new messages wait for the ones it left in the shared outbox", async () => {
  const t = await startTestPlatform();
  const target = await createTestDatabase({ empty: true });
  // The shared relay is held off (a session holds its leader lock) until the test lets it lead.
  const holder = new pg.Client({ connectionString: t.db.url });
  await holder.connect();
  const stop = new AbortController();
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.message);
  process.on('warning', onWarning);
  let running: Promise<void> | undefined;
  try {
    const admin = await t.token('admin', { subject: 'ops' });
    const rid = (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Moving', city: 'Lisbon' } })).json().id as string;
    const orderId = randomUUID();
    const write = (type: string) =>
      t.platform.deps.unitOfWork({ service: 'ordering', tenantId: rid, actor: { kind: 'staff', id: randomUUID() } }, (tx) =>
        writeToOutbox(tx, [{ subject: `ordering.order.${type}`, key: orderId, payload: { orderId, type } }]),
      );
    const [before] = await write('placed');
    await holder.query(LEADER_LOCK);

    const lines: string[] = [];
    await moveTenant({ tenantId: rid, sourceUrl: t.db.url, targetUrl: target.url, sets: migrationSets(), schemas: MOVING_SCHEMAS, onProgress: (l) => lines.push(l) });
    assert.ok(lines.some((l) => l.includes('relays of ordering have messages to publish first')), lines.join('\n'));
    const [after] = await write('accepted');

    // Every publish goes through the transport (no busPool: not the in-database shortcut), recorded in order.
    const published: string[] = [];
    const inner = t.platform.deps.transport;
    const recording: Transport = {
      kind: inner.kind,
      publish: async (messages: readonly OutgoingMessage[]) => {
        await inner.publish(messages);
        published.push(...messages.map((m) => m.id));
      },
      ensureSubscription: (spec) => inner.ensureSubscription(spec),
      subscribe: (options, handler) => inner.subscribe(options, handler),
      redeliver: (subscription, message) => inner.redeliver(subscription, message),
      close: async () => undefined,
    };
    const relay = RELAY_WORKERS.find((w) => w.service === 'ordering')!;
    running = runOnEveryDatabase(relay, { ...t.platform.deps, transport: recording }, stop.signal, { pollMs: 20 });

    // The dedicated database's relay starts and says it waits (or, wrongly, publishes the new message).
    const waits = () => warnings.some((w) => w.includes('waits until the shared relay has published'));
    while (!waits() && !published.includes(after!)) await new Promise((r) => setTimeout(r, 10));
    assert.equal(published.length, 0, 'nothing is published while the shared relay has not published the older message');

    await holder.query(`select pg_advisory_unlock_all()`);
    while (!published.includes(after!)) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(published, [before, after], 'the message written before the move leaves first');
  } finally {
    stop.abort();
    await running?.catch(() => undefined);
    process.off('warning', onWarning);
    await holder.end();
    await t.close();
    await target.drop();
  }
});
