import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { ORDER_COMMAND_STEPS, orderCommandDriver } from '../../bench/event-store/orderCommands.ts';
import { createDatabases, type Databases } from '../../src/platform/db/index.ts';
import { createTenantRouter } from '../../src/platform/tenancy/index.ts';
import { createOrderStore } from '../../src/services/ordering/orderStore.ts';
import { useTestDatabase } from '../support/db.ts';

describe("the event-store benchmark's `order commands` mode", () => {
  const database = useTestDatabase();
  let dbs: Databases;
  before(() => {
    dbs = createDatabases({ url: database.db.url, poolSize: 4 });
    database.defer(() => dbs.close());
  });

  test("runs an order's life through the ordering service's commands: one event each, the index and the outbox written as the app writes them", async () => {
    const router = createTenantRouter({ databases: dbs });
    const restaurants = [randomUUID(), randomUUID()];
    const step = orderCommandDriver(router, createOrderStore(), restaurants);
    const benchOrder = randomUUID();
    for (let s = 0; s < ORDER_COMMAND_STEPS; s++) await step(1, benchOrder, s);

    const pool = database.pool(1);
    const { rows: events } = await pool.query<{ stream_id: string; type: string; version: string }>(
      'select stream_id, type, stream_version::text as version from ordering.events order by stream_version',
    );
    assert.deepEqual(
      events.map((e) => e.type),
      ['OrderPlaced', 'OrderAccepted', 'OrderReady', 'CourierAssigned', 'OrderPickedUp'],
    );
    assert.equal(new Set(events.map((e) => e.stream_id)).size, 1, 'one order');
    const orderId = events[0]!.stream_id.replace(/^order-/, '');
    const { rows: index } = await pool.query<{ tenant_id: string; courier_id: string | null }>('select tenant_id, courier_id from ordering.order_index where order_id = $1', [orderId]);
    assert.equal(index.length, 1, 'placeOrder indexed the order');
    assert.equal(index[0]!.tenant_id, restaurants[1], "the writer's restaurant");
    assert.notEqual(index[0]!.courier_id, null, 'assign-courier recorded the courier in the index (indexCourier)');
    const { rows: keys } = await pool.query('select 1 from ordering.idempotency_keys where order_id = $1', [orderId]);
    assert.equal(keys.length, 1, "placeOrder claimed the customer's idempotency key");
    const { rows: outbox } = await pool.query<{ n: number }>('select count(*)::int as n from ordering.outbox');
    assert.equal(outbox[0]!.n, ORDER_COMMAND_STEPS, 'every event left through the outbox');
  });

  test('a command after a failed placement fails, naming the order', async () => {
    const step = orderCommandDriver(createTenantRouter({ databases: dbs }), createOrderStore(), [randomUUID()]);
    await assert.rejects(step(0, 'never-placed', 1), /order never-placed was not placed/);
  });
});
