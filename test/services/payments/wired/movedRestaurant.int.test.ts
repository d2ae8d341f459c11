import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../../src/composition/services.ts';
import { payoutsOf } from '../../../../src/services/payments/saga/index.ts';
import { moveTenant } from '../../../../src/platform/tenancy/index.ts';
import { createTestDatabase, type TestDatabase } from '../../../support/db.ts';
import { command } from '../../ordering/support.ts';
import { eventually, ledgerOf, orderFor, paymentOf, seedRestaurant, signUp, startWiredPlatform, type SeededRestaurant, type WiredPlatform } from './support.ts';

const CARD_ON_FILE = '5555555555554444';

/** The order views, one row per order in the database of its restaurant. */
const VIEW_TABLES = ['ordering.board_view', 'ordering.customer_orders_view', 'ordering.courier_tasks_view'];

/** The tables that hold an order's rows, with the column that names the order. */
const ORDER_TABLES: ReadonlyArray<readonly [string, string]> = [
  ['ordering.events', `substr(stream_id, 7)`],
  ['ordering.order_index', 'order_id::text'],
  ...VIEW_TABLES.map((table) => [table, 'order_id::text'] as const),
  ['payments.saga_instances', `state->>'orderId'`],
];

/** How many rows of `table` belong to the order `orderId` in the database at `url` (a superuser look, no RLS). */
async function rowsOf(url: string, table: string, column: string, orderId: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return Number((await client.query<{ n: string }>(`select count(*) as n from ${table} where ${column} = $1::text`, [orderId])).rows[0]?.n);
  } finally {
    await client.end();
  }
}

// Decision 0008: a restaurant moved to a dedicated database while `brigade start`'s workers run. Its
// relays, projectors and payment saga runners there are started by runOnEveryDatabase within a poll
// of the move; delivery's rows stay shared (tenantRowsStayShared), so dispatch serves it; lookups
// without a restaurant (a customer's payment view, a courier's commands) look in every database.
describe('the wired platform: a restaurant moved to its own database while every worker runs', () => {
  let w: WiredPlatform;
  let target: TestDatabase | undefined;
  let moved: SeededRestaurant;
  let stayed: SeededRestaurant;
  let courier: { id: string; token: string };
  let movedOrderId: string | undefined;
  let stayedOrderId: string | undefined;
  before(async () => {
    w = await startWiredPlatform();
    target = await createTestDatabase({ empty: true });
    // Both in Porto, the courier's city.
    moved = await seedRestaurant(w.t, 'Moved Pizzeria');
    stayed = await seedRestaurant(w.t, 'Stayed Pizzeria');
    const admin = await w.t.token('admin', { subject: 'ops' });
    const made = await w.t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name: 'Rita', city: 'Porto' } });
    assert.equal(made.statusCode, 201, made.body);
    // A courier's token names no restaurant: their order lookups go through findInEveryDatabase.
    courier = { id: made.json().id as string, token: await w.t.token('courier', { subject: made.json().id as string }) };
  });
  after(async () => {
    // The platform's pools (the target's one among them) end first: the drop fails on a leaked connection.
    await w?.close();
    await target?.drop();
  });

  type Order = Awaited<ReturnType<typeof orderFor>>;
  const versionOf = async (r: SeededRestaurant, order: Order) => (await w.t.request({ url: `/v1/orders/${order.id}`, token: r.staff })).json().version as number;

  /** Waits until the card on file is authorized for the order (the customer reads the payment view). */
  const charged = async (order: Order, customer: { token: string }) => {
    const authorized = await eventually('the charge', () => paymentOf(w, order.id, customer.token), (p) => p.statusCode === 200 && p.body.payment === 'authorized');
    assert.equal(authorized.body.cardLast4, '4444', "the customer's card on file was charged");
    assert.deepEqual(await ledgerOf(w, order.id), [['authorization', 2850, 'charge']]);
  };

  /** Accepts the order, marks its lines prepared and readies it, as its restaurant's staff. */
  const prepare = async (r: SeededRestaurant, order: Order) => {
    assert.equal((await command(w.t, r.staff, order.id, 'accept', await versionOf(r, order), { etaMinutes: 15 })).statusCode, 200);
    for (const line of order.lines) assert.equal((await command(w.t, r.staff, order.id, 'mark-item-prepared', await versionOf(r, order), { lineId: line.lineId })).statusCode, 200);
    assert.equal((await command(w.t, r.staff, order.id, 'ready', await versionOf(r, order))).statusCode, 200);
  };

  /** Waits for delivery's dispatch to assign the courier, who then picks the order up and delivers it. */
  const handOver = async (r: SeededRestaurant, order: Order) => {
    await eventually('the courier', async () => (await w.t.request({ url: `/v1/orders/${order.id}`, token: r.staff })).json().courierId, (id) => id === courier.id);
    const pickUp = await command(w.t, courier.token, order.id, 'pick-up', await versionOf(r, order));
    assert.equal(pickUp.statusCode, 200, pickUp.body);
    const deliver = await command(w.t, courier.token, order.id, 'deliver', await versionOf(r, order));
    assert.equal(deliver.statusCode, 200, deliver.body);
  };

  /** Waits for the payouts; money moved exactly once per step, per the provider's own ledger. */
  const paidOut = async (order: Order, customer: { token: string }) => {
    const paid = await eventually('the payouts', () => paymentOf(w, order.id, customer.token), (p) => p.body.payment === 'paid_out');
    const body = paid.body as { status: string; outcome: string; events: Array<{ type: string }>; deadlines: Array<{ name: string; state: string }> };
    assert.deepEqual([body.status, body.outcome], ['completed', 'delivered']);
    assert.deepEqual(
      body.events.map((e) => e.type),
      ['saga.started', 'order.accepted', 'courier.assigned', 'order.delivered'],
    );
    assert.deepEqual(body.deadlines.map((d) => [d.name, d.state]), [['accept', 'cancelled']]);
    const split = payoutsOf({ total: 2850 }, {});
    assert.deepEqual(await ledgerOf(w, order.id), [
      ['authorization', 2850, 'charge'],
      ['capture', 2850, 'capture'],
      ['payout', split.restaurant, 'payoutRestaurant'],
      ['payout', split.courier, 'payoutCourier'],
    ]);
  };

  test("the moved restaurant's order in dispatch at the move, and one placed after it, are each charged, dispatched, delivered and paid out once", async () => {
    const targetUrl = target!.url;
    const sharedUrl = w.t.db.url;
    const customer = await signUp(w, CARD_ON_FILE);

    // Before the move: an order charged and ready, waiting in delivery's queue (no courier is available yet).
    const inFlight = await orderFor(w, moved, customer);
    await charged(inFlight, customer);
    await prepare(moved, inFlight);
    await eventually('the dispatch job', () => rowsOf(sharedUrl, 'delivery.dispatch_queue', 'order_id::text', inFlight.id), (n) => n === 1);

    await moveTenant({ tenantId: moved.rid, sourceUrl: sharedUrl, targetUrl, sets: migrationSets(), schemas: MOVING_SCHEMAS });

    // The job stayed with delivery in the shared database: a courier who turns up gets it.
    assert.equal((await w.t.request({ method: 'POST', url: '/v1/couriers/me/availability', token: courier.token, payload: { available: true } })).statusCode, 200);
    await handOver(moved, inFlight);
    await paidOut(inFlight, customer);

    // After the move: OrderPlaced → ordering's outbox in the target → the target's relay → payments
    // consumer → the saga, in the target → the target's saga runner → provider; then as above.
    const order = await orderFor(w, moved, customer);
    movedOrderId = order.id;
    assert.equal(order.total, 2850);
    await charged(order, customer);
    await prepare(moved, order);
    await handOver(moved, order);
    await paidOut(order, customer);

    // The live board, read where the restaurant lives, as projected by the target's projectors.
    const board = await eventually(
      'the board',
      async () => {
        const res = await w.t.request({ url: `/v1/restaurants/${moved.rid}/board?all=true`, token: moved.staff });
        assert.equal(res.statusCode, 200, res.body);
        return (res.json().orders as Array<{ orderId: string; status: string; courierId: string | null }>).map((o) => [o.orderId, o.status, o.courierId]);
      },
      (rows) => rows.every(([, status]) => status === 'delivered'),
    );
    assert.deepEqual(board, [
      [inFlight.id, 'delivered', courier.id],
      [order.id, 'delivered', courier.id],
    ]);

    // Each order's events, index, view rows and saga are in the target database; its events, index and
    // saga none in the shared one (its view rows there: the last test).
    for (const id of [inFlight.id, order.id]) {
      for (const [table, column] of ORDER_TABLES) assert.ok((await rowsOf(targetUrl, table, column, id)) > 0, `${table} has the order's rows in the target`);
      for (const [table, column] of ORDER_TABLES.filter(([table]) => !VIEW_TABLES.includes(table))) {
        assert.equal(await rowsOf(sharedUrl, table, column, id), 0, `${table} has none of the order's rows in the shared database`);
      }
      // Delivery's rows of the moved restaurant stay in the shared database (tenantRowsStayShared).
      assert.equal(await rowsOf(sharedUrl, 'delivery.dispatch_queue', 'order_id::text', id), 1);
      assert.equal(await rowsOf(targetUrl, 'delivery.dispatch_queue', 'order_id::text', id), 0);
    }
  });

  test('an order of the restaurant that stayed is charged and projected in the shared database', async () => {
    const customer = await signUp(w, CARD_ON_FILE);
    const order = await orderFor(w, stayed, customer);
    stayedOrderId = order.id;
    const authorized = await eventually('the charge', () => paymentOf(w, order.id, customer.token), (p) => p.statusCode === 200 && p.body.payment === 'authorized');
    assert.equal(authorized.body.cardLast4, '4444');
    assert.deepEqual(await ledgerOf(w, order.id), [['authorization', 2850, 'charge']]);
    await eventually(
      'the board',
      async () => (await w.t.request({ url: `/v1/restaurants/${stayed.rid}/board`, token: stayed.staff })).json().orders as Array<{ orderId: string }>,
      (rows) => rows.some((o) => o.orderId === order.id),
    );
    for (const [table, column] of ORDER_TABLES) {
      // The three views' projectors take turns: the board having it says nothing of the other two yet.
      await eventually(`${table} has the order's rows in the shared database`, () => rowsOf(w.t.db.url, table, column, order.id), (n) => n > 0);
      if (!VIEW_TABLES.includes(table)) assert.equal(await rowsOf(target!.url, table, column, order.id), 0, `${table} has none of the order's rows in the target`);
    }
  });

  // Found by this test: the projections' shared tail (src/platform/projections/sharedTail.ts) was kept
  // per event store and service, not per database, so the projector instances of the shared and of the
  // dedicated database in one process read each other's events from it and wrote view rows (and
  // checkpoints) for them. The tails are now kept per database (the projector's pool).
  test("each order's view rows are in its restaurant's database only", async () => {
    assert.ok(movedOrderId !== undefined && stayedOrderId !== undefined, 'the tests above ran');
    // Rows of the moved restaurant's order in the shared database, and of the other one's in the target.
    const strays: Record<string, number> = {};
    for (const table of VIEW_TABLES) {
      strays[`shared ${table}`] = await rowsOf(w.t.db.url, table, 'order_id::text', movedOrderId);
      strays[`target ${table}`] = await rowsOf(target!.url, table, 'order_id::text', stayedOrderId);
    }
    assert.deepEqual(strays, Object.fromEntries(Object.keys(strays).map((k) => [k, 0])));
  });
});
