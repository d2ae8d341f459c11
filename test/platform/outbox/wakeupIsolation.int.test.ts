import assert from 'node:assert/strict';
import { afterEach, before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { createPgTransport, type Message, type Transport } from '../../../src/platform/messaging/index.ts';
import { createRelay, outboxChannel, writeToOutbox, type RelayEvent } from '../../../src/platform/outbox/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { TENANT, token, waitFor } from './support.ts';

/** The xmin horizon is cluster-wide: other test files' open transactions delay the relay's sleep (decision 0011). */
const RELAY_MS = 120_000;
const database = useTestDatabase();
let pool: pg.Pool;
let transport: Transport;
const cleanups: Array<() => Promise<void>> = [];

before(async () => {
  await database.ready;
  pool = database.pool(8);
  transport = createPgTransport({ pool, pollIntervalMs: 100 });
  database.defer(() => transport.close());
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe('the relay’s wake-up, whatever the producer’s isolation level', { timeout: 300_000 }, () => {
  for (const isolation of ['read committed', 'repeatable read', 'serializable'] as const) {
    test(`a ${isolation} producer whose transaction began while the relay was awake, and wrote after it slept, wakes it`, async () => {
      const subject = `delivery.${token()}.Woken`;
      const subscription = `${token()}-w`;
      await transport.ensureSubscription({ subscription, pattern: subject });
      const received: Message[] = [];
      const consumer = new AbortController();
      const worker = transport.subscribe({ subscription, concurrency: 1, signal: consumer.signal }, async (m) => {
        received.push(m);
      });
      cleanups.push(async () => (consumer.abort(), await worker.done));

      // Who hears the relay's channel: the producer's NOTIFY, if it sends one.
      const listener = await pool.connect();
      cleanups.push(async () => listener.release(true));
      let notified = false;
      listener.on('notification', (n) => {
        if (n.channel === outboxChannel('delivery')) notified = true;
      });
      await listener.query(`listen ${outboxChannel('delivery')}`);

      // The safety poll is off for the test's length: only a notification wakes the sleeping relay. The
      // linger keeps it awake long enough for the producer to start while it is.
      const events: RelayEvent[] = [];
      const stop = new AbortController();
      const done = createRelay({ pool, service: 'delivery', transport, lockPollMs: 50, pollIntervalMs: 600_000, idleLingerMs: 2000, onProgress: (e) => events.push(e) }).run(stop.signal);
      cleanups.push(async () => (stop.abort(), await done));
      const flag = async () => (await pool.query<{ sleeping: boolean }>('select sleeping from delivery.outbox_state')).rows[0]!.sleeping;
      await waitFor('the relay leads, awake', async () => events.some((e) => e.kind === 'leader') && !(await flag()), RELAY_MS);

      await unitOfWork(pool, { service: 'delivery', tenantId: TENANT, actor: { kind: 'staff', id: TENANT }, isolation }, async (tx) => {
        // The first statement: under REPEATABLE READ and SERIALIZABLE it takes the snapshot that every
        // later statement of the transaction reads with, the trigger's read of the flag included.
        const { rows } = await tx.query<{ sleeping: boolean }>('select sleeping from delivery.outbox_state');
        assert.equal(rows[0]!.sleeping, false, 'the producer began while the relay was awake');
        // The relay flags itself asleep and passes its fence (this transaction has no id yet).
        const from = events.length;
        await waitFor('the relay sleeps', () => events.slice(from).some((e) => e.kind === 'sleeping'), RELAY_MS);
        await writeToOutbox(tx, [{ subject, key: 'w', payload: { isolation } }]);
      });

      // Before, the trigger read the flag with the snapshot of the transaction's start ("awake"): no
      // NOTIFY, and the message waited for the safety poll.
      await waitFor('the producer’s commit notified the relay', () => notified, 10_000);
      await waitFor('delivered long before the safety poll', () => received.length === 1, RELAY_MS);
      assert.deepEqual(received[0]!.payload, { isolation });
    });
  }
});
