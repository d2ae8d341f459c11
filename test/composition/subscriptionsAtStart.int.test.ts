import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { newMessageId, type Message } from '../../src/platform/messaging/index.ts';
import { SERVICES } from '../../src/composition/services.ts';
import { startTestPlatform, type TestPlatform } from '../support/platform.ts';

// A subscription gets what is published after its creation (decision 0015). A process that only
// serves HTTP (its relays publishing) may run before any worker of a consuming service has started:
// the platform creates every service's durable subscriptions when it starts, so nothing published
// from then on is missed by a consumer that starts later.
let t: TestPlatform;
before(async () => {
  t = await startTestPlatform();
});
after(() => t.close());

test('every service declares the durable subscriptions its consumers use', () => {
  const declared = SERVICES.flatMap((service) => (service.subscriptions ?? []).map((spec) => spec.subscription)).sort();
  assert.deepEqual(declared, ['delivery-dispatch', 'ordering-dispatch-alerts', 'payments-saga']);
});

test('a message published after the platform started, before any consumer ran, reaches each subscription once its consumer starts', async () => {
  const { transport } = t.platform.deps;
  const id = newMessageId();
  const key = randomUUID();
  // Published as a relay of a `brigade serve` would, while no worker has run.
  await transport.publish([{ id, subject: 'ordering.order.Probe', key, headers: { correlation: id, causation: '', tenant: '', traceparent: '' }, payload: { probe: true } }]);
  for (const subscription of ['delivery-dispatch', 'payments-saga']) {
    const stop = new AbortController();
    const received = new Promise<Message>((resolve) => {
      const worker = transport.subscribe({ subscription, signal: stop.signal }, async (message) => {
        if (message.id === id) resolve(message);
      });
      void worker.done.catch(() => undefined);
    });
    const message = await received;
    stop.abort();
    assert.equal(message.key, key, subscription);
  }
});
