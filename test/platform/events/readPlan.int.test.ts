import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { GLOBAL_ORDER_PAGE } from '../../../src/platform/events/readAll.ts';
import { useTestDatabase } from '../../support/db.ts';
import { planNodes, type PlanNode } from '../../support/plans.ts';

/**
 * A page of the global order walks events_global_order from its checkpoint whatever lies after it
 * (decision 0069): with the cross-tenant read policy priced as true for about 1 % of rows, a reader
 * far behind (a projection catching up) read every event after its checkpoint and sorted them to keep
 * one page.
 */
describe('a page of the global order, far behind the head', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;

  before(async () => {
    pool = database.pool(2);
    // 30,000 events of 1,000 restaurants (tenants), written as the owner (small transaction ids: below
    // every running one), analysed: the planner knows the table.
    await pool.query(
      `insert into ordering.events (tenant_id, stream_id, stream_version, message_id, type, data, metadata, transaction_id)
       select ('00000000-0000-4000-8000-' || lpad((g % 1000)::text, 12, '0'))::uuid, 'order-' || (g / 4), g % 4 + 1, gen_random_uuid(), 'OrderPlaced',
              '{}', '{}', (100 + g / 16)::text::xid8
         from generate_series(0, 29999) g`,
    );
    await pool.query('analyze ordering.events');
  });

  /** The scans of `ordering.events` in the plan of a page from the start, read as a projector (actor kind system), after `first` (as the owner). */
  const scansOfPage = async (first?: string) => {
    const client = await pool.connect();
    try {
      await client.query('begin');
      if (first !== undefined) await client.query(first);
      await client.query(
        `set local role brigade_ordering; select set_config('brigade.actor_kind', 'system', true), set_config('brigade.tenant_id', '', true)`,
      );
      const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`explain (format json) select e.* from ordering.events e ${GLOBAL_ORDER_PAGE}`, ['0', '0', 500]);
      return planNodes(rows[0]!['QUERY PLAN'][0]!.Plan);
    } finally {
      await client.query('rollback');
      client.release();
    }
  };

  test('walks the index, no sort; the old policy read the range and sorted it', async () => {
    const plan = await scansOfPage();
    assert.deepEqual(plan.filter((n) => n['Relation Name'] === 'events').map((n) => [n['Node Type'], n['Index Name']]), [['Index Scan', 'events_global_order']], JSON.stringify(plan));
    assert.ok(!plan.some((n) => n['Node Type'] === 'Sort'));
    // The policies as they were before decision 0069 (the per-actor read policy of ordering 0039 came later).
    const old = await scansOfPage(
      `alter policy events_cross_tenant_read on ordering.events using ((select current_setting('brigade.actor_kind', true)) in ('admin', 'system'));
       drop policy events_actor_read on ordering.events`,
    );
    assert.ok(old.some((n) => n['Node Type'] === 'Sort'), JSON.stringify(old));
  });
});
