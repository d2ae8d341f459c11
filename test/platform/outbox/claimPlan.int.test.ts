import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { claimStatement, claimToBusStatement } from '../../../src/platform/outbox/claimOutboxBatch.ts';
import { useTestDatabase } from '../../support/db.ts';
import { planNodes, type PlanNode } from '../../support/plans.ts';

/**
 * The claim walks outbox_relay_order from the checkpoint whatever the backlog (decision 0069): with
 * the relay's policy priced as true for 0.5 % of rows, a backlog of some tens of thousands of rows
 * made the planner read the whole outbox and sort it for every claim of 500.
 */
describe('the relay claim with a large backlog', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  const checkpoint = { transactionId: '0', id: '0' };

  before(async () => {
    pool = database.pool(2);
    // 60,000 rows waiting (small transaction ids: below every running transaction), as after an outage.
    await pool.query(
      `insert into delivery.outbox (transaction_id, message_id, subject, aggregate_key, headers, payload)
       select (100 + g / 50)::text::xid8, gen_random_uuid(), 'delivery.claim.Step', 'k' || g % 97, '{"tenant": ""}', jsonb_build_object('n', g)
         from generate_series(1, 60000) g`,
    );
    await pool.query('analyze delivery.outbox');
  });

  /** The plan of `text` as the relay's session runs it (role, actor kind system, the outbox's RLS), after `first` (as the owner). */
  const planAsRelay = async (text: string, values: unknown[], first?: string) => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      if (first !== undefined) await client.query(first);
      await client.query(`set local role brigade_delivery; select set_config('brigade.actor_kind', 'system', true)`);
      const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`explain (format json) ${text}`, values);
      return planNodes(rows[0]!['QUERY PLAN'][0]!.Plan).filter((n) => n['Relation Name'] === 'outbox');
    } finally {
      await client.query('rollback');
      client.release();
    }
  };

  test('both claims walk the index from the checkpoint; the old policy made them sort the outbox', async () => {
    for (const statement of [claimStatement('delivery.outbox', checkpoint, 500), claimToBusStatement('delivery.outbox', checkpoint, 500)]) {
      const scans = await planAsRelay(statement.text, [...(statement.values ?? [])]);
      assert.deepEqual(scans.map((n) => n['Index Name']), ['outbox_relay_order'], JSON.stringify(scans));
    }
    const statement = claimStatement('delivery.outbox', checkpoint, 500);
    const old = await planAsRelay(
      statement.text,
      [...(statement.values ?? [])],
      `alter policy outbox_relay on delivery.outbox using ((select current_setting('brigade.actor_kind', true)) = 'system')`,
    );
    assert.ok(old.length > 0 && old.every((n) => String(n['Node Type']).endsWith('Seq Scan')), JSON.stringify(old));
  });
});
