import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { horizonStatement, readOutboxHorizon, type OutboxCheckpoint } from '../../../src/platform/outbox/claimOutboxBatch.ts';
import { useTestDatabase } from '../../support/db.ts';
import { planNodes, type PlanNode } from '../../support/plans.ts';

/**
 * An idle relay reads the horizon after every empty claim (every poll step while it lingers, every
 * `pollIntervalMs` while it sleeps). The rows it asks about are the few after its checkpoint, but the
 * outbox keeps every published row for the retention (an hour by default): the read must walk
 * outbox_relay_order from the checkpoint, not the retained rows. An outbox is not analysed until
 * autovacuum gets to it (a new service's, or one that grew since), so the plan must not need statistics.
 */
describe('the relay’s horizon read after an empty claim', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let checkpoint: OutboxCheckpoint;

  before(async () => {
    pool = database.pool(2);
    // Never analysed while the test runs, as a new service's outbox is.
    await pool.query('alter table delivery.outbox set (autovacuum_enabled = false)');
    // 200,000 published rows kept for the retention (small transaction ids: below every running
    // transaction), and the checkpoint on the last of them: nothing waits.
    const { rows } = await pool.query<{ transaction_id: string; id: string }>(
      `with inserted as (
         insert into delivery.outbox (transaction_id, message_id, subject, aggregate_key, headers, payload)
         select (100 + g / 50)::text::xid8, gen_random_uuid(), 'delivery.horizon.Step', 'k' || g % 97, '{"tenant": ""}', jsonb_build_object('n', g)
           from generate_series(1, 200000) g
         returning transaction_id, id)
       select i.transaction_id::text as transaction_id, i.id::text as id from inserted i order by i.transaction_id desc, i.id desc limit 1`,
    );
    checkpoint = { transactionId: rows[0]!.transaction_id, id: rows[0]!.id };
    await pool.query('update delivery.outbox_state set relayed_transaction_id = $1::xid8, relayed_id = $2', [checkpoint.transactionId, checkpoint.id]);
  });

  /** Runs `work` on a session set up as the relay's (the service role, actor kind system, under the outbox's RLS). */
  const asRelay = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query(`set local role brigade_delivery; select set_config('brigade.actor_kind', 'system', true)`);
      return await work(client);
    } finally {
      await client.query('rollback');
      client.release();
    }
  };

  test('reads a range of outbox_relay_order from the checkpoint, not the retained rows, on an unanalysed outbox', async () => {
    const { rows: stats } = await pool.query(`select reltuples from pg_class where oid = 'delivery.outbox'::regclass`);
    assert.equal(stats[0].reltuples, -1, 'precondition: never analysed');
    const statement = horizonStatement('delivery.outbox', checkpoint);
    const nodes = await asRelay(async (client) => {
      const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`explain (format json) ${statement.text}`, [...(statement.values ?? [])]);
      return planNodes(rows[0]!['QUERY PLAN'][0]!.Plan);
    });
    const outboxScans = nodes.filter((n) => n['Relation Name'] === 'outbox' || n['Index Name'] !== undefined);
    // Before: `exists (… (transaction_id, id) > checkpoint)` alone, a Seq Scan of every retained row
    // (26 ms on 200,000 rows; the index: under a millisecond).
    assert.ok(!nodes.some((n) => n['Node Type'] === 'Seq Scan' && n['Relation Name'] === 'outbox'), `no Seq Scan on the outbox: ${JSON.stringify(nodes)}`);
    assert.ok(outboxScans.length >= 1, JSON.stringify(nodes));
    assert.ok(
      outboxScans.every((n) => n['Node Type'] === 'Bitmap Heap Scan' || n['Index Name'] === 'outbox_relay_order'),
      `every read of the outbox goes through outbox_relay_order: ${JSON.stringify(nodes)}`,
    );
  });

  test('still sees a row after the checkpoint, and none at or before it', async () => {
    assert.equal((await asRelay((client) => readOutboxHorizon(client, 'delivery.outbox', checkpoint))).pending, false, 'nothing after the checkpoint');
    const before = { transactionId: checkpoint.transactionId, id: String(BigInt(checkpoint.id) - 1n) };
    assert.equal((await asRelay((client) => readOutboxHorizon(client, 'delivery.outbox', before))).pending, true, 'the last row, after a checkpoint one before it');
    // A row committed by a transaction after the checkpoint's (its own id, as a producer writes it).
    await pool.query(
      `insert into delivery.outbox (message_id, subject, aggregate_key, headers, payload) values (gen_random_uuid(), 'delivery.horizon.Step', 'late', '{"tenant": ""}', null)`,
    );
    assert.equal((await asRelay((client) => readOutboxHorizon(client, 'delivery.outbox', checkpoint))).pending, true, 'a row written after the checkpoint');
  });
});
