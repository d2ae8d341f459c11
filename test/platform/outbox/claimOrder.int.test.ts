import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { createPgTransport } from '../../../src/platform/messaging/index.ts';
import { claimOutboxBatch, type OutboxCheckpoint } from '../../../src/platform/outbox/claimOutboxBatch.ts';
import { useTestDatabase } from '../../support/db.ts';
import { token } from './support.ts';

const database = useTestDatabase();
let pool: pg.Pool;

before(async () => {
  await database.ready;
  pool = database.pool(4);
});

/**
 * Transaction ids of different decimal widths. Every real transaction of the cluster has a larger id,
 * so these rows are the first of the relay's order, and all below the horizon.
 */
const IDS = ['9', '10', '99', '100', '999', '1000'];

/** A leader-like session: the relay's role and actor (the claim runs on the session holding the lock). */
async function relaySession(): Promise<pg.PoolClient> {
  const client = await pool.connect();
  await client.query(
    `set role brigade_delivery; select set_config('brigade.actor_kind', 'system', false), set_config('brigade.actor_id', 'outbox-relay', false), set_config('brigade.tenant_id', '', false)`,
  );
  return client;
}

/** Claims pages of `limit` rows from the start until one comes back empty; returns the transaction ids in claim order. */
async function claimAll(toBus: boolean, limit: number): Promise<string[]> {
  const client = await relaySession();
  try {
    const seen: string[] = [];
    let after: OutboxCheckpoint = { transactionId: '0', id: '0' };
    for (;;) {
      const rows = await claimOutboxBatch(client, 'delivery.outbox', after, limit, [], toBus);
      if (rows.length === 0) return seen;
      seen.push(...rows.map((r) => r.transactionId));
      after = { transactionId: rows.at(-1)!.transactionId, id: rows.at(-1)!.id };
    }
  } finally {
    client.release(true);
  }
}

describe('the outbox claim order', () => {
  test('pages follow the numeric order of transaction ids across decimal widths (999 before 1000), in both claim paths', async () => {
    // The database owner writes rows with chosen transaction ids, in an order unlike either sort.
    const subject = `delivery.${token()}.Step`;
    for (const id of ['1000', '9', '100', '10', '999', '99']) {
      await pool.query(
        `insert into delivery.outbox (transaction_id, message_id, subject, aggregate_key, headers, payload)
         values ($1::xid8, gen_random_uuid(), $2, 'k', '{}', jsonb_build_object('seq', $1::text))`,
        [id, subject],
      );
    }
    const transport = createPgTransport({ pool });
    const subscription = `${token()}-order`;
    await transport.ensureSubscription({ subscription, pattern: subject });
    await transport.close();
    // Pages of two: a text sort would take '10' and '100' first and move the checkpoint past '9' and '99'.
    assert.deepEqual(await claimAll(false, 2), IDS, 'claimed through the transport');
    assert.deepEqual(await claimAll(true, 2), IDS, 'claimed into the bus in the same statement');
    const { rows } = await pool.query<{ payload: { seq: string } }>(
      `select m.payload from brigade_bus.deliveries d join brigade_bus.messages m on m.id = d.message_id where d.subscription = $1 order by d.id`,
      [subscription],
    );
    assert.deepEqual(
      rows.map((r) => r.payload.seq),
      IDS,
      'the bus received them in that order',
    );
  });
});
