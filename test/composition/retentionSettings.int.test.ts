import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { createPgTransport, newMessageId, type Message } from '../../src/platform/messaging/index.ts';
import { writeToOutbox } from '../../src/platform/outbox/index.ts';
import { PLATFORM_WORKERS, RELAY_WORKERS, SERVICES } from '../../src/composition/services.ts';
import { eventually, FLOW_MS, within } from '../support/eventually.ts';
import { startTestPlatform, type TestPlatform } from '../support/platform.ts';

// The retention windows are settings (OUTBOX_RETENTION_MS, MESSAGE_DEDUPE_WINDOW_MS, NATS_STREAM_MAX_AGE_MS,
// INBOX_RETENTION_MS): the workers that `brigade start` and `brigade worker` run prune by them, not by their
// built-in defaults (1 hour, 2 minutes, 7 days, 7 days).
const DAY_MS = 24 * 3_600_000;
let t: TestPlatform;
before(async () => {
  t = await startTestPlatform({ OUTBOX_RETENTION_MS: '1000', MESSAGE_DEDUPE_WINDOW_MS: '1000', NATS_STREAM_MAX_AGE_MS: '60000', INBOX_RETENTION_MS: String(2 * DAY_MS) });
});
after(() => t.close());

/** Runs a worker of the platform until `until` resolves. */
async function running<T>(worker: { run(deps: typeof t.platform.deps, signal: AbortSignal): Promise<void> }, until: () => Promise<T>): Promise<T> {
  const stop = new AbortController();
  const done = worker.run(t.platform.deps, stop.signal);
  try {
    return await until();
  } finally {
    stop.abort();
    await done;
  }
}

test('the outbox relay prunes what it published once OUTBOX_RETENTION_MS has passed', async () => {
  const { deps } = t.platform;
  const [id] = await deps.unitOfWork({ service: 'ordering', tenantId: randomUUID(), actor: { kind: 'system', id: 'test' } }, (tx) =>
    writeToOutbox(tx, [{ subject: 'ordering.order.Probe', key: randomUUID(), payload: { probe: true } }]),
  );
  const relay = RELAY_WORKERS.find((worker) => worker.service === 'ordering')!;
  // Relayed: it reaches a subscription made before.
  await deps.transport.ensureSubscription({ subscription: 'retention-probe', pattern: 'ordering.order.*' });
  await running(relay, async () => {
    const stop = new AbortController();
    const received = new Promise<Message>((resolve, reject) => {
      deps.transport.subscribe({ subscription: 'retention-probe', signal: stop.signal }, async (m) => void (m.id === id && resolve(m))).done.catch(reject);
    });
    await within(received, FLOW_MS, 'the relayed message').finally(() => stop.abort());
  });
  const pool = deps.databases.poolFor('ordering');
  const left = async () => (await pool.query('select 1 from ordering.outbox where message_id = $1', [id])).rowCount;
  assert.equal(await left(), 1, 'kept while the retention has not passed');
  await sleep(1100);
  // A relay's first prune comes a second after it starts leading; with the 1 hour default it keeps the row.
  await running(relay, () => eventually('the published row pruned', left, (n) => n === 0));
});

test('the bus retention deletes a settled message once MESSAGE_DEDUPE_WINDOW_MS has passed', async () => {
  const { deps } = t.platform;
  const pool = deps.databases.poolFor('platform');
  const id = newMessageId();
  // No subscription takes this subject: settled from the start.
  const transport = createPgTransport({ pool });
  await transport.publish([{ id, subject: 'menu.retention.Probe', key: 'k', headers: { correlation: id, causation: '', tenant: '', traceparent: '' }, payload: {} }]);
  await transport.close();
  const stored = async () => (await pool.query('select 1 from brigade_bus.messages where id = $1', [id])).rowCount;
  assert.equal(await stored(), 1);
  await sleep(1100);
  const retention = PLATFORM_WORKERS.find((worker) => worker.name === 'bus-retention')!;
  // Its first pass runs at once; with the 2 minute default it keeps the message.
  await running(retention, () => eventually('the settled message deleted', stored, (n) => n === 0));
});

test('the bus retention deletes JetStream failures rows last written longer ago than NATS_STREAM_MAX_AGE_MS and an hour', async () => {
  const pool = t.platform.deps.databases.poolFor('platform');
  const [gone, kept] = [newMessageId(), newMessageId()];
  // Two hours: past a minute's max_age and the hour's margin, inside the 7 days of the default. Half an hour: inside both.
  await pool.query(
    `insert into brigade_bus.failures (subscription, message_id, last_failed_at) values ('retention-probe', $1, now() - interval '2 hours'), ('retention-probe', $2, now() - interval '30 minutes')`,
    [gone, kept],
  );
  const left = async () => (await pool.query<{ message_id: string }>(`select message_id::text from brigade_bus.failures where subscription = 'retention-probe'`)).rows.map((r) => r.message_id);
  const retention = PLATFORM_WORKERS.find((worker) => worker.name === 'bus-retention')!;
  await running(retention, () => eventually('the failures row past the stream\'s max_age deleted', left, (ids) => !ids.includes(gone)));
  assert.deepEqual(await left(), [kept]);
});

test('the delivery inbox retention deletes claims handled longer ago than INBOX_RETENTION_MS', async () => {
  const pool = t.platform.deps.databases.poolFor('delivery');
  const [gone, kept, fresh] = [newMessageId(), newMessageId(), newMessageId()];
  // Three days: past the setting's two (and inside the 7 days of the default). A day and a half: inside it. Now: inside both.
  await pool.query(
    `insert into delivery.inbox (subscription, message_id, subject, handled_at)
     values ('retention-probe', $1, 'ordering.order.OrderReady', now() - interval '3 days'),
            ('retention-probe', $2, 'ordering.order.OrderReady', now() - interval '36 hours'),
            ('retention-probe', $3, 'ordering.order.OrderReady', now())`,
    [gone, kept, fresh],
  );
  const left = async () => (await pool.query<{ message_id: string }>(`select message_id::text from delivery.inbox where subscription = 'retention-probe' order by handled_at`)).rows.map((r) => r.message_id);
  const retention = SERVICES.find((service) => service.name === 'delivery')!.workers!.find((worker) => worker.name === 'inbox-retention')!;
  await running(retention, () => eventually('the claim past INBOX_RETENTION_MS deleted', left, (ids) => !ids.includes(gone)));
  assert.deepEqual(await left(), [kept, fresh]);
});
