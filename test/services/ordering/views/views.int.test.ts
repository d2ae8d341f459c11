import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { createPlatform, type Platform } from '../../../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../../../src/composition/services.ts';
import { loadConfig } from '../../../../src/platform/config/index.ts';
import { unitOfWork } from '../../../../src/platform/db/index.ts';
import { formatPosition, projectionStatus, runProjection } from '../../../../src/platform/projections/index.ts';
import { createViewRoutes, ORDER_VIEWS } from '../../../../src/services/ordering/views/index.ts';
import { useTestDatabase } from '../../../support/db.ts';
import { TEST_SECRET } from '../../../support/platform.ts';
import { append, drain, event, freshFold, newOrder, placed, viewRows } from './support.ts';
import { FLOW_MS } from '../../../support/eventually.ts';

const { board, customerOrders } = ORDER_VIEWS;

describe('order views: lifecycle, per-actor RLS, idempotent replay, read-your-writes, leader lock', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let admin: pg.Pool;
  let platform: Platform;
  const r1 = randomUUID();
  const r2 = randomUUID();
  const c1 = randomUUID();
  const c2 = randomUUID();
  const k1 = randomUUID();
  const k2 = randomUUID();
  const a = newOrder(r1, c1);
  const b = newOrder(r1, c2);
  const c = newOrder(r2, c1);
  const token = (role: 'staff' | 'courier' | 'customer' | 'admin', subject: string, restaurantId?: string) =>
    platform.deps.tokens.sign({ role, subject, ...(restaurantId === undefined ? {} : { restaurantId }) });
  const get = async (url: string, auth: string) => {
    const response = await platform.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${auth}` } });
    return { status: response.statusCode, headers: response.headers, body: response.json() as Record<string, unknown> };
  };
  const drainAll = async (target: Parameters<typeof drain>[2]) => {
    for (const p of ORDER_VIEWS.all) await drain(pool, p, target);
  };

  before(async () => {
    pool = database.pool(8);
    admin = database.pool(2);
    const { url } = database.db;
    const config = loadConfig({ DATABASE_URL: url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '6' }, { services: SERVICE_NAMES });
    platform = await createPlatform(config, { url, embedded: null }, {
      services: [
        {
          name: 'ordering',
          // The routes twice: a short wait bound (to see it end) and, under /v1/patient, one long enough
          // that only a view that never catches up could end it (no timing in the outcome).
          routes: async (app, options) => {
            await app.register(createViewRoutes({ maxWaitMs: 300 }), options);
            await app.register(createViewRoutes({ maxWaitMs: 60_000 }), { ...options, prefix: '/patient' });
          },
        },
      ],
      logger: false,
    });
    database.defer(() => platform.close());
  });

  test('a lifecycle folds into the board, the customer history and the courier list', async () => {
    await append(pool, a, [placed(a, '2025-01-01T12:00:00.000Z')]);
    await append(pool, a, [event(a, 'OrderAccepted', { etaMinutes: 20 }, '2025-01-01T12:01:00.000Z'), event(a, 'ItemPrepared', { lineId: a.lineIds[0] }, '2025-01-01T12:02:00.000Z')]);
    await append(pool, b, [placed(b, '2025-01-01T12:03:00.000Z')]);
    await append(pool, a, [event(a, 'OrderReady', {}, '2025-01-01T12:10:00.000Z'), event(a, 'CourierAssigned', { courierId: k1 }, '2025-01-01T12:11:00.000Z')]);
    await append(pool, c, [placed(c), event(c, 'OrderCancelled', { by: 'customer', reason: 'changed my mind' })]);
    const last = await append(pool, a, [event(a, 'OrderPickedUp', { courierId: k1 }, '2025-01-01T12:20:00.000Z')]);
    await drainAll(last);

    const boardRows = await viewRows(admin, 'board_view');
    const rowA = boardRows.find((r) => r.order_id === a.orderId)!;
    assert.equal(rowA.status, 'picked_up');
    assert.equal(rowA.version, 6);
    assert.equal(rowA.eta_minutes, 20);
    assert.equal(rowA.courier_id, k1);
    assert.equal(rowA.total, 3300);
    assert.deepEqual((rowA.lines as Array<{ prepared: boolean }>).map((l) => l.prepared), [true, false]);
    assert.equal(new Date(String(rowA.accepted_at)).toISOString(), '2025-01-01T12:01:00.000Z');
    assert.equal(new Date(String(rowA.ready_at)).toISOString(), '2025-01-01T12:10:00.000Z');
    assert.equal(new Date(String(rowA.updated_at)).toISOString(), '2025-01-01T12:20:00.000Z');
    assert.equal(`${String(rowA.last_transaction_id)}.${String(rowA.last_position)}`, formatPosition(last), 'the row records the position of the last event that shaped it');
    assert.deepEqual(boardRows.map((r) => [r.order_id, r.status]).sort(), [[a.orderId, 'picked_up'], [b.orderId, 'placed'], [c.orderId, 'cancelled']].sort());

    const history = await viewRows(admin, 'customer_orders_view');
    assert.deepEqual(history.filter((r) => r.customer_id === c1).map((r) => [r.order_id, r.restaurant_id, r.status]).sort(), [[a.orderId, r1, 'picked_up'], [c.orderId, r2, 'cancelled']].sort());
    const tasks = await viewRows(admin, 'courier_tasks_view');
    const taskA = tasks.find((r) => r.order_id === a.orderId)!;
    assert.deepEqual([taskA.courier_id, taskA.status, taskA.restaurant_id, taskA.delivery_address], [k1, 'picked_up', r1, '1 Rue de la Paix, Paris']);
    assert.equal(tasks.find((r) => r.order_id === b.orderId)!.courier_id, null);
  });

  test('per actor under RLS: staff see their restaurant, customers their orders, couriers their tasks', async () => {
    // The database filters, whatever the query asks for: a bare SELECT per actor.
    const seen = async (actor: { kind: 'staff' | 'customer' | 'courier'; id: string }, tenantId: string | null, table: string) =>
      (await unitOfWork(pool, { service: 'ordering', tenantId, actor, readOnly: true }, (tx) => tx.query<{ order_id: string }>(`select order_id from ordering.${table} order by order_id`))).rows
        .map((r) => r.order_id);
    assert.deepEqual(await seen({ kind: 'staff', id: randomUUID() }, r1, 'board_view'), [a.orderId, b.orderId].sort());
    assert.deepEqual(await seen({ kind: 'customer', id: c1 }, null, 'board_view'), []);
    assert.deepEqual(await seen({ kind: 'customer', id: c1 }, null, 'customer_orders_view'), [a.orderId, c.orderId].sort());
    assert.deepEqual(await seen({ kind: 'customer', id: c2 }, null, 'customer_orders_view'), [b.orderId]);
    assert.deepEqual(await seen({ kind: 'staff', id: randomUUID() }, r1, 'customer_orders_view'), []);
    assert.deepEqual(await seen({ kind: 'courier', id: k1 }, null, 'courier_tasks_view'), [a.orderId]);
    assert.deepEqual(await seen({ kind: 'courier', id: k2 }, null, 'courier_tasks_view'), []);
    assert.deepEqual(await seen({ kind: 'customer', id: 'not-a-uuid' }, null, 'customer_orders_view'), [], 'a non-uuid subject reads nothing, without an error');
    await assert.rejects(
      unitOfWork(pool, { service: 'ordering', tenantId: r1, actor: { kind: 'staff', id: randomUUID() } }, (tx) => tx.query(`update ordering.board_view set status = 'x'`).then((r) => assert.equal(r.rowCount, 0))).then(() => {
        throw new Error('no rows updated');
      }),
      /no rows updated/,
      'staff cannot write the view (the policy for writes is the projector’s)',
    );

    // And over HTTP.
    const staff1 = await token('staff', randomUUID(), r1);
    const boardRes = await get(`/v1/restaurants/${r1}/board?all=true`, staff1);
    assert.equal(boardRes.status, 200);
    assert.deepEqual((boardRes.body.orders as Array<{ orderId: string }>).map((o) => o.orderId).sort(), [a.orderId, b.orderId].sort());
    const open = await get(`/v1/restaurants/${r1}/board`, staff1);
    assert.deepEqual((open.body.orders as Array<{ orderId: string }>).map((o) => o.orderId).sort(), [a.orderId, b.orderId].sort());
    assert.equal((await get(`/v1/restaurants/${r2}/board`, staff1)).status, 404, "another restaurant's board is a 404");
    assert.equal((await get(`/v1/restaurants/${r2}/board`, await token('admin', 'ops'))).status, 200);
    const adminBoard = await get(`/v1/restaurants/${r2}/board?all=true`, await token('admin', 'ops'));
    assert.deepEqual((adminBoard.body.orders as Array<{ orderId: string }>).map((o) => o.orderId), [c.orderId]);
    assert.equal((await get(`/v1/restaurants/${r1}/board`, await token('courier', k1))).status, 403);

    const mine = await get('/v1/customers/me/orders', await token('customer', c1));
    assert.deepEqual((mine.body.orders as Array<{ orderId: string }>).map((o) => o.orderId).sort(), [a.orderId, c.orderId].sort());
    const theirs = await get('/v1/customers/me/orders', await token('customer', c2));
    assert.deepEqual((theirs.body.orders as Array<{ orderId: string }>).map((o) => o.orderId), [b.orderId]);
    const tasksK1 = await get('/v1/couriers/me/tasks', await token('courier', k1));
    assert.deepEqual((tasksK1.body.tasks as Array<{ orderId: string; deliveryAddress: string }>).map((t) => [t.orderId, t.deliveryAddress]), [[a.orderId, '1 Rue de la Paix, Paris']]);
    assert.deepEqual((await get('/v1/couriers/me/tasks', await token('courier', k2))).body.tasks, []);
    assert.equal((await get('/v1/couriers/me/tasks', await token('customer', c1))).status, 403);
  });

  test("an order cancelled after its pick-up (lost in transit) leaves the board's open orders and the courier's open tasks; the customer's history shows it cancelled", async () => {
    const r3 = randomUUID();
    const c3 = randomUUID();
    const k3 = randomUUID();
    const lost = newOrder(r3, c3);
    await append(pool, lost, [placed(lost), event(lost, 'OrderAccepted'), event(lost, 'CourierAssigned', { courierId: k3, assignment: 1 }), event(lost, 'OrderReady'), event(lost, 'OrderPickedUp', { courierId: k3 })]);
    const last = await append(pool, lost, [event(lost, 'OrderCancelled', { by: 'admin', reason: 'lost in transit', pickedUpBy: k3 })]);
    await drainAll(last);
    const rowOf = async (table: string) => (await viewRows(admin, table)).find((r) => r.order_id === lost.orderId)!;
    assert.deepEqual([(await rowOf('board_view')).status, (await rowOf('board_view')).courier_id], ['cancelled', k3]);
    assert.deepEqual([(await rowOf('courier_tasks_view')).status, (await rowOf('courier_tasks_view')).courier_id], ['cancelled', k3]);
    assert.equal((await rowOf('customer_orders_view')).status, 'cancelled');

    const staff3 = await token('staff', randomUUID(), r3);
    assert.deepEqual((await get(`/v1/restaurants/${r3}/board`, staff3)).body.orders, [], 'not on the live board');
    assert.deepEqual(((await get(`/v1/restaurants/${r3}/board?all=true`, staff3)).body.orders as Array<{ status: string }>).map((o) => o.status), ['cancelled']);
    const courier3 = await token('courier', k3);
    assert.deepEqual((await get('/v1/couriers/me/tasks', courier3)).body.tasks, [], 'no longer a task of the courier');
    assert.deepEqual(((await get('/v1/couriers/me/tasks?all=true', courier3)).body.tasks as Array<{ status: string }>).map((t) => t.status), ['cancelled']);
    assert.deepEqual(((await get('/v1/customers/me/orders', await token('customer', c3))).body.orders as Array<{ orderId: string; status: string }>).map((o) => [o.orderId, o.status]), [[lost.orderId, 'cancelled']]);
  });

  test('replay is idempotent: a rewound checkpoint re-reads every event and changes nothing', async () => {
    const before = { board: await viewRows(admin, 'board_view'), customer: await viewRows(admin, 'customer_orders_view'), courier: await viewRows(admin, 'courier_tasks_view') };
    const head = await projectionStatus(pool, [board]);
    await admin.query(`update ordering.projection_checkpoints set transaction_id = '0', position = 0`);
    await drainAll(head[0]!.checkpoint);
    assert.deepEqual(await viewRows(admin, 'board_view'), before.board);
    assert.deepEqual(await viewRows(admin, 'customer_orders_view'), before.customer);
    assert.deepEqual(await viewRows(admin, 'courier_tasks_view'), before.courier);
    for (const p of ORDER_VIEWS.all) assert.deepEqual(await viewRows(admin, p.table), await freshFold(admin, pool, p), `${p.name} equals a fresh fold`);
  });

  test('read-your-writes: ?after waits until the view has applied the position, and the wait is bounded', async () => {
    const accepted = await append(pool, b, [event(b, 'OrderAccepted', {}, '2025-01-01T13:00:00.000Z')]);
    const [state] = await projectionStatus(pool, [board]);
    assert.ok(state!.checkpoint.transactionId < accepted.transactionId || state!.checkpoint.position < accepted.position, 'the board has not applied it yet');
    const staff1 = await token('staff', randomUUID(), r1);
    const pending = get(`/v1/patient/restaurants/${r1}/board?after=${formatPosition(accepted)}`, staff1);
    // The view catches up only a while after the request came in: the request must still be waiting.
    await new Promise((resolve) => setTimeout(resolve, 200));
    await drain(pool, board, accepted);
    const res = await pending;
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-view-lagging'], 'false');
    assert.equal(res.body.lagging, false);
    assert.equal((res.body.orders as Array<{ orderId: string; status: string }>).find((o) => o.orderId === b.orderId)!.status, 'accepted');

    const far = await get(`/v1/restaurants/${r1}/board?after=9223372036854775806.1`, staff1);
    assert.equal(far.status, 200, 'a position the view has not reached answers with the view as it is');
    assert.equal(far.headers['x-view-lagging'], 'true');
    assert.equal(far.body.lagging, true);
    assert.equal(far.body.position, far.headers['x-view-position']);
    assert.equal((await get(`/v1/restaurants/${r1}/board?after=12-3`, staff1)).status, 400);
  });

  test('two runners: exactly one leads; the other takes over when the first stops', async () => {
    const leaders: string[] = [];
    const one = runProjection(pool, customerOrders, { idleMs: 10, lockRetryMs: 20, onLeadership: (l) => leaders.push(`one:${l}`) });
    const two = runProjection(pool, customerOrders, { idleMs: 10, lockRetryMs: 20, onLeadership: (l) => leaders.push(`two:${l}`) });
    const stopOne = new AbortController();
    const stopTwo = new AbortController();
    const runningOne = one.run(stopOne.signal);
    await until(() => one.leader);
    const runningTwo = two.run(stopTwo.signal);
    // While one leads, two keeps retrying the lock and never gets it: the view still moves (one works).
    const p1 = await append(pool, b, [event(b, 'OrderReady', {}, '2025-01-01T13:10:00.000Z')]);
    await untilApplied(customerOrders, p1);
    const [status] = await projectionStatus(pool, [customerOrders]);
    assert.notEqual(status!.leaderPid, null);
    assert.equal(two.leader, false);
    assert.deepEqual(leaders, ['one:true']);

    stopOne.abort();
    await runningOne;
    await until(() => two.leader);
    const p2 = await append(pool, b, [event(b, 'CourierAssigned', { courierId: k2 }, '2025-01-01T13:11:00.000Z'), event(b, 'OrderPickedUp', { courierId: k2 }, '2025-01-01T13:20:00.000Z')]);
    await untilApplied(customerOrders, p2);
    assert.equal((await viewRows(admin, 'customer_orders_view')).find((r) => r.order_id === b.orderId)!.status, 'picked_up');
    stopTwo.abort();
    await runningTwo;
    assert.deepEqual(leaders, ['one:true', 'one:false', 'two:true', 'two:false']);
    await drainAll(p2);
    for (const p of ORDER_VIEWS.all) assert.deepEqual(await viewRows(admin, p.table), await freshFold(admin, pool, p));
  });

  /** Polls `fn` (a condition another async actor makes true); FLOW_MS bounds a hang. */
  async function until(fn: () => boolean): Promise<void> {
    const deadline = Date.now() + FLOW_MS;
    while (!fn()) {
      if (Date.now() > deadline) throw new Error('condition not reached');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
  async function untilApplied(projection: typeof board, target: { transactionId: bigint; position: bigint }): Promise<void> {
    const deadline = Date.now() + FLOW_MS;
    for (;;) {
      const [s] = await projectionStatus(pool, [projection]);
      const cp = s!.checkpoint;
      if (cp.transactionId > target.transactionId || (cp.transactionId === target.transactionId && cp.position >= target.position)) return;
      if (Date.now() > deadline) throw new Error('not applied');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }
});
