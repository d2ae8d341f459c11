import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createPgTransport, newMessageId, type Message } from '../../src/platform/messaging/index.ts';
import { writeToOutbox } from '../../src/platform/outbox/index.ts';
import { DURABLE_SUBSCRIPTIONS, RELAY_WORKERS } from '../../src/composition/services.ts';
import { runMain } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { eventually, FLOW_MS, within } from '../support/eventually.ts';
import { startTestPlatform, type TestPlatform } from '../support/platform.ts';

// A subscription gets what is published after its creation (decision 0015). A process that only
// serves HTTP (its relays publishing) may run before any worker of a consuming service has started:
// each relay creates every service's durable subscriptions before it first publishes, so a consumer
// that starts later still gets the message.
let t: TestPlatform;
before(async () => {
  t = await startTestPlatform();
});
after(() => t.close());

test('every service declares the durable subscriptions its consumers use', () => {
  assert.deepEqual(DURABLE_SUBSCRIPTIONS.map((spec) => spec.subscription).sort(), ['delivery-dispatch', 'ordering-dispatch-alerts', 'payments-saga']);
});

test('an order event relayed before any consumer ever ran reaches each subscription once its consumer starts', async () => {
  const { deps } = t.platform;
  const key = randomUUID();
  const [id] = await deps.unitOfWork({ service: 'ordering', tenantId: randomUUID(), actor: { kind: 'system', id: 'test' } }, (tx) =>
    writeToOutbox(tx, [{ subject: 'ordering.order.Probe', key, payload: { probe: true } }]),
  );
  // Only the ordering relay runs, as in a `brigade serve --service ordering` (no consumer anywhere).
  const relay = RELAY_WORKERS.find((worker) => worker.service === 'ordering')!;
  const stopRelay = new AbortController();
  const relaying = relay.run(deps, stopRelay.signal);
  try {
    for (const subscription of ['delivery-dispatch', 'payments-saga']) {
      // A worker of a subscription that does not exist yet ends at once: wait for the relay to make it.
      const platformPool = deps.databases.poolFor('platform');
      await eventually(`${subscription} made by the relay`, async () => (await platformPool.query('select 1 from brigade_bus.subscriptions where name = $1', [subscription])).rowCount, (n) => n === 1);
      const stop = new AbortController();
      const message = await new Promise<Message>((resolve, reject) => {
        const worker = deps.transport.subscribe({ subscription, signal: stop.signal }, async (m) => {
          if (m.id === id) resolve(m);
        });
        worker.done.catch(reject);
      });
      stop.abort();
      assert.equal(message.key, key, subscription);
    }
  } finally {
    stopRelay.abort();
    await relaying;
  }
});

// A release that adds a subscription is migrated before its rollout, while the older release's
// processes still relay: `brigade migrate` creates the subscriptions, so what those relays publish
// meanwhile reaches the new one (decision 0015, "Later").
describe('brigade migrate creates the durable subscriptions', () => {
  const database = useTestDatabase({ empty: true });

  test('a message an older process publishes after the migration reaches every subscription of the new release', async () => {
    const migrated = await runMain(['migrate'], { DATABASE_URL: database.db.url });
    assert.equal(migrated.code, 0, migrated.stderr);
    assert.match(migrated.stdout, /^subscriptions on the PostgreSQL bus: ordering-dispatch-alerts, delivery-dispatch, payments-saga$/m);

    // An older release's relay: it knows none of the subscriptions and creates none.
    const transport = createPgTransport({ pool: database.pool(4) });
    const id = newMessageId();
    const headers = { correlation: id, causation: id, tenant: randomUUID(), traceparent: '' };
    await transport.publish([{ id, subject: 'ordering.order.Probe', key: randomUUID(), headers, payload: { probe: true } }]);
    for (const subscription of ['delivery-dispatch', 'payments-saga']) {
      const stop = new AbortController();
      const receiving = new Promise<Message>((resolve) => {
        const worker = transport.subscribe({ subscription, signal: stop.signal }, async (m) => {
          if (m.id === id) resolve(m);
        });
        void worker.done.catch(() => undefined);
      });
      // Fanned out at publish: a subscription that did not exist then never gets it.
      const received = await within(receiving, FLOW_MS, `the message on ${subscription}`).finally(() => stop.abort());
      assert.equal(received.subject, 'ordering.order.Probe', subscription);
    }
    await transport.close();
  });

  test('a broker that does not answer fails the command with what to do, after the migrations', async () => {
    const result = await runMain(['migrate'], { DATABASE_URL: database.db.url, NATS_URL: 'nats://127.0.0.1:1' });
    assert.equal(result.code, 1, result.stdout);
    assert.match(result.stderr, /the migrations are applied, but the durable subscriptions could not be created on NATS JetStream at NATS_URL \(.*\)\. Run 'brigade migrate' again once it answers/);
  });
});
