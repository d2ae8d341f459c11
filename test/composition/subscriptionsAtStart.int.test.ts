import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import type { Message } from '../../src/platform/messaging/index.ts';
import { writeToOutbox } from '../../src/platform/outbox/index.ts';
import { DURABLE_SUBSCRIPTIONS, RELAY_WORKERS } from '../../src/composition/services.ts';
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
      const stop = new AbortController();
      const message = await new Promise<Message>((resolve) => {
        const worker = deps.transport.subscribe({ subscription, signal: stop.signal }, async (m) => {
          if (m.id === id) resolve(m);
        });
        void worker.done.catch(() => undefined);
      });
      stop.abort();
      assert.equal(message.key, key, subscription);
    }
  } finally {
    stopRelay.abort();
    await relaying;
  }
});
