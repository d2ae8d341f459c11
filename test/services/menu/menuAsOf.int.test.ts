import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { LIVE_MENU_SQL, MENU_AS_OF_SQL } from '../../../src/services/menu/operations/menuDocumentSql.ts';
import { useTestDatabase } from '../../support/db.ts';
import { planNodes, type PlanNode } from '../../support/plans.ts';

describe('menu as of an instant: each level of history read once', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  const tenant = randomUUID();
  let asOf: Date;

  before(async () => {
    pool = database.pool(2);
    // 12 categories × 10 items, a group of 3 modifiers on each item, as the owner: the history trigger
    // records every row. Then each item's price changes twice, so history holds more than the menu.
    await pool.query(
      `with c as (insert into menu.categories (tenant_id, name, position) select $1, 'Category ' || g, g from generate_series(1, 12) g returning id, position),
            i as (insert into menu.items (tenant_id, category_id, name, price)
                  select $1, c.id, 'Item ' || c.position || '-' || g, 100 * g from c, generate_series(1, 10) g returning id, name),
            gr as (insert into menu.modifier_groups (tenant_id, item_id, name, min_choices, max_choices) select $1, i.id, 'Size of ' || i.name, 0, 1 from i returning id)
       insert into menu.modifiers (tenant_id, group_id, name, price_delta, position) select $1, gr.id, 'Choice ' || g, 10 * g, g from gr, generate_series(1, 3) g`,
      [tenant],
    );
    await pool.query(`update menu.items set price = price + 1, version = version + 1 where tenant_id = $1`, [tenant]);
    await pool.query(`update menu.items set price = price + 1, version = version + 1 where tenant_id = $1`, [tenant]);
    asOf = new Date((await pool.query<{ now: Date }>('select clock_timestamp() as now')).rows[0]!.now.getTime() + 1);
    await pool.query('analyze menu.history');
  });

  const context = () => ({ service: 'menu', tenantId: tenant, actor: { kind: 'staff' as const, id: randomUUID() }, readOnly: true });

  test('the document as of now is the live document', async () => {
    const [live, past] = await unitOfWork(pool, context(), async (tx) => [
      (await tx.query<{ doc: string }>(LIVE_MENU_SQL, [tenant, 'EUR'])).rows[0]!.doc,
      (await tx.query<{ doc: string }>(MENU_AS_OF_SQL, [tenant, 'EUR', asOf])).rows[0]!.doc,
    ]);
    const menu = JSON.parse(past) as { categories: Array<{ items: Array<{ price: number; modifierGroups: Array<{ modifiers: unknown[] }> }> }> };
    assert.equal(menu.categories.length, 12);
    assert.equal(menu.categories[0]!.items.length, 10);
    assert.equal(menu.categories[0]!.items[0]!.price, 102);
    assert.equal(menu.categories[0]!.items[0]!.modifierGroups[0]!.modifiers.length, 3);
    // The live document also says whether the restaurant takes orders now (decision 0094), which the menu's history does not keep.
    const { takingOrders, pause, ...menuNow } = JSON.parse(live) as Record<string, unknown>;
    assert.deepEqual([takingOrders, pause], [true, null]);
    assert.deepEqual(JSON.parse(past), menuNow);
  });

  test('every scan of the history runs once, whatever the number of categories, items and groups', async () => {
    const plan = await unitOfWork(pool, context(), async (tx) => {
      const { rows } = await tx.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`explain (analyze, format json) ${MENU_AS_OF_SQL}`, [tenant, 'EUR', asOf]);
      return rows[0]!['QUERY PLAN'][0]!.Plan;
    });
    const scans = planNodes(plan).filter((n) => n['Relation Name'] === 'history');
    assert.equal(scans.length, 5, "one scan per level, and one for the document's version");
    for (const scan of scans) assert.equal(scan['Actual Loops'], 1, `${String(scan['Node Type'])} of history ran ${String(scan['Actual Loops'])} times`);
  });
});
