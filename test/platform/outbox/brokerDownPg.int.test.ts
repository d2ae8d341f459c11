import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createPgTransport, type OutgoingMessage, type Transport } from '../../../src/platform/messaging/index.ts';
import { useTestDatabase } from '../../support/db.ts';
import { OUTAGE_MS, writeThroughOutage } from './outage.ts';

const database = useTestDatabase();

describe('broker down during writes (PostgreSQL transport)', { timeout: 170_000 }, () => {
  test('PostgreSQL transport refusing publishes for 30 s: nothing is lost, order is kept, the relay drains afterwards', async () => {
    const pool = database.pool(20);
    const real = createPgTransport({ pool, pollIntervalMs: 100 });
    database.defer(() => real.close());
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
    await writeThroughOutage(pool, flaky, 'delivery', async () => {
      await new Promise((r) => setTimeout(r, 500));
      down = true;
      await new Promise((r) => setTimeout(r, OUTAGE_MS));
      down = false;
    });
    assert.ok(refused > 0, 'the relay tried during the outage');
  });
});
