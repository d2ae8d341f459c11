import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork, type UnitOfWorkContext } from '../../../../src/platform/db/index.ts';
import type { Projection } from '../../../../src/platform/projections/index.ts';
import { ORDER_VIEWS } from '../../../../src/services/ordering/views/index.ts';
import { boardQuery, courierTasksQuery, customerOrdersQuery } from '../../../../src/services/ordering/views/listQueries.ts';
import { readView, toViewItem, viewSql, type ViewQuery } from '../../../../src/services/ordering/views/readView.ts';
import { useTestDatabase } from '../../../support/db.ts';

/**
 * The lists read what they return, not the whole history: a view keeps every order it ever saw, so
 * a list must be served by an index of the caller's rows (and of the open ones, for the open lists),
 * never by a scan of the view or of all of a restaurant's or courier's past orders.
 */
describe('order view lists: index-served at any size', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let owner: pg.Pool;
  const restaurant = randomUUID();
  const courier = randomUUID();
  const customer = randomUUID();

  before(async () => {
    pool = database.pool(2);
    owner = database.pool(1);
    // 30,000 finished orders (4,000 of the restaurant, 3,000 of the courier, 2,000 of the customer)
    // and 12 open ones of each: the history a list must not read.
    const status = `case when g % 2500 = 0 then 'accepted' else 'delivered' end`;
    const seed = `from generate_series(1, 30000) g, lateral (select
        case when g % 7 = 0 or g % 2500 = 0 then $1::uuid else gen_random_uuid() end as tenant_id,
        case when g % 10 = 0 or g % 2500 = 0 then $2::uuid else gen_random_uuid() end as courier_id,
        case when g % 15 = 0 or g % 2500 = 0 then $3::uuid else gen_random_uuid() end as customer_id,
        timestamptz '2026-01-01' + g * interval '1 minute' as at) x`;
    await owner.query(
      `insert into ordering.board_view (tenant_id, order_id, status, lines, total, currency, placed_at, updated_at, version, last_transaction_id, last_position)
       select tenant_id, gen_random_uuid(), ${status}, '[]', 1000, 'EUR', at, at, 6, '1'::xid8, g ${seed}`,
      [restaurant, courier, customer],
    );
    await owner.query(
      `insert into ordering.courier_tasks_view (tenant_id, order_id, courier_id, status, restaurant_id, delivery_address, assigned_at, updated_at, version, last_transaction_id, last_position)
       select tenant_id, gen_random_uuid(), courier_id, ${status}, tenant_id, 'Main St 1', at, at, 6, '1'::xid8, g ${seed}`,
      [restaurant, courier, customer],
    );
    await owner.query(
      `insert into ordering.customer_orders_view (tenant_id, order_id, customer_id, restaurant_id, status, total, currency, placed_at, updated_at, version, last_transaction_id, last_position)
       select tenant_id, gen_random_uuid(), customer_id, tenant_id, ${status}, 1000, 'EUR', at, at, 6, '1'::xid8, g ${seed}`,
      [restaurant, courier, customer],
    );
    await owner.query('analyze ordering.board_view, ordering.courier_tasks_view, ordering.customer_orders_view');
  });

  /** The plan of `query` as `context` runs it (its role and row-level security), as JSON text. */
  const planOf = (context: UnitOfWorkContext, projection: Projection, query: ViewQuery) =>
    unitOfWork(pool, { ...context, readOnly: true }, async (tx) => {
      const statement = viewSql(projection, query);
      const { rows } = await tx.query<{ 'QUERY PLAN': unknown }>(`explain (format json) ${statement.text}`, statement.values);
      return JSON.stringify(rows[0]!['QUERY PLAN']);
    });
  const read = (context: UnitOfWorkContext, projection: Projection, query: ViewQuery) =>
    unitOfWork(pool, { ...context, readOnly: true }, async (tx) => ({ items: (await readView(tx, projection, query)).rows.map(toViewItem) }));
  const staff: UnitOfWorkContext = { service: 'ordering', tenantId: restaurant, actor: { kind: 'staff', id: randomUUID() } };
  const asCourier: UnitOfWorkContext = { service: 'ordering', tenantId: null, actor: { kind: 'courier', id: courier } };
  const asCustomer: UnitOfWorkContext = { service: 'ordering', tenantId: null, actor: { kind: 'customer', id: customer } };

  test("the live-board's open orders come from the index of open orders only", async () => {
    const plan = await planOf(staff, ORDER_VIEWS.board, boardQuery(restaurant, false));
    assert.match(plan, /"Index Name":"board_view_open"/);
    assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/);
    const { items } = await read(staff, ORDER_VIEWS.board, boardQuery(restaurant, false));
    assert.equal(items.length, 12);
    assert.ok(items.every((i) => i.status === 'accepted'));
    assert.deepEqual(items.map((i) => i.placedAt), items.map((i) => i.placedAt).sort());
    // A later page (after the fifth order) reads the same index, from the cursor on.
    const cursor = { at: new Date(String(items[4]!.placedAt)).toISOString(), orderId: String(items[4]!.orderId) };
    const later = await planOf(staff, ORDER_VIEWS.board, boardQuery(restaurant, false, 500, cursor));
    assert.match(later, /"Index Name":"board_view_open"/);
    assert.doesNotMatch(later, /"Node Type":"Seq Scan"/);
    const rest = await read(staff, ORDER_VIEWS.board, boardQuery(restaurant, false, 500, cursor));
    assert.deepEqual(rest.items.map((i) => i.orderId), items.slice(5).map((i) => i.orderId));
  });

  test("a courier's open tasks come from the index of open tasks only", async () => {
    const plan = await planOf(asCourier, ORDER_VIEWS.courierTasks, courierTasksQuery(courier, false));
    assert.match(plan, /"Index Name":"courier_tasks_view_open"/);
    assert.doesNotMatch(plan, /"Node Type":"Seq Scan"/);
    const { items } = await read(asCourier, ORDER_VIEWS.courierTasks, courierTasksQuery(courier, false));
    assert.equal(items.length, 12);
    assert.ok(items.every((i) => i.status === 'accepted' && i.courierId === courier));
  });

  test("a customer's orders and a courier's whole history come from the per-actor indexes, a page at a time", async () => {
    const orders = await planOf(asCustomer, ORDER_VIEWS.customerOrders, customerOrdersQuery(customer, undefined));
    assert.match(orders, /"Index Name":"customer_orders_view_customer"/);
    assert.doesNotMatch(orders, /"Node Type":"Seq Scan"/);
    const all = await planOf(asCourier, ORDER_VIEWS.courierTasks, courierTasksQuery(courier, true));
    assert.match(all, /"Index Name":"courier_tasks_view_courier"/);
    assert.doesNotMatch(all, /"Node Type":"Seq Scan"/);
    const { items } = await read(asCustomer, ORDER_VIEWS.customerOrders, customerOrdersQuery(customer, undefined, 50));
    assert.equal(items.length, 50);
    assert.ok(items.every((i) => i.customerId === customer));
    assert.deepEqual(items.map((i) => i.placedAt), items.map((i) => i.placedAt).sort().reverse());
  });

  test('a subject that is no uuid reads nothing, and fails nothing', async () => {
    const context: UnitOfWorkContext = { service: 'ordering', tenantId: null, actor: { kind: 'customer', id: 'not-a-uuid' } };
    const { items } = await read(context, ORDER_VIEWS.customerOrders, customerOrdersQuery('not-a-uuid', undefined));
    assert.deepEqual(items, []);
  });
});
