import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import type { UnitOfWorkFn } from '../../../src/platform/tenancy/index.ts';
import { dispatchOnce, runDispatchLoop, type OrderCommands } from '../../../src/services/delivery/index.ts';
import { enqueueOrder } from '../../../src/services/delivery/operations/enqueueOrder.ts';
import { holdCourier } from '../../../src/services/delivery/operations/holdCourier.ts';
import { within } from '../../support/eventually.ts';
import { useTestDatabase } from '../../support/db.ts';

// A courier staff hold for a reassignment (holdCourier, decision 0084) is skipped by the dispatch. When
// ordering's append failed, the hold just expires, and nothing happens at that moment: an order that
// found no courier because the city's only available one was held slept its whole backoff (or died at
// its last attempt) although the courier was usable again. Now such an order is due again when the hold
// ends, and that retry spends none of its attempts (decision 0041, "a hold's end"). Since the dispatch
// review a hold ends at its lease's end only when the dispatch's sweep finds ordering without the
// courier on the held order (these holds are for orders ordering does not know); it stands otherwise.

const system = { service: 'delivery', actor: { kind: 'system', id: 'delivery-test' } } as const;
/** A backoff longer than any test: the order is due again before it only if something else brings it. */
const LONG_BACKOFF = { backoff: { initialMs: 600_000, maxMs: 600_000 } };

describe("an order that found only a held courier is tried again when the hold ends", () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let uow: UnitOfWorkFn;
  before(() => {
    pool = database.pool(6);
    uow = (context, fn) => unitOfWork(pool, context, fn);
  });

  const availableCourier = async (city: string) => {
    const id = randomUUID();
    await pool.query(`insert into delivery.courier_availability (courier_id, city, status, available_since) values ($1, $2, 'available', now())`, [id, city]);
    return id;
  };
  /** Staff reassigning some other order to `courierId`: the courier is held for `leaseMs`. */
  const hold = (courierId: string, city: string, leaseMs: number) =>
    uow(system, (tx) => holdCourier(tx, { tenantId: randomUUID(), orderId: randomUUID(), courierId, city, leaseMs }));
  const queue = async (city: string) => {
    const order = { tenantId: randomUUID(), orderId: randomUUID() };
    assert.equal(await uow(system, (tx) => enqueueOrder(tx, { ...order, city })), true);
    return order;
  };
  const row = async (orderId: string) =>
    (await pool.query(`select state, attempts, courier_id, next_attempt_at from delivery.dispatch_queue where order_id = $1`, [orderId])).rows[0];
  const heldUntil = async (courierId: string) =>
    (await pool.query(`select held_until from delivery.courier_availability where courier_id = $1`, [courierId])).rows[0].held_until as Date;
  const alerts = async (orderId: string) => (await pool.query(`select 1 from delivery.dispatch_alerts where order_id = $1`, [orderId])).rowCount;
  const silentOrders: OrderCommands = { assignCourier: async () => undefined, unassignCourier: async () => true, orderCourier: async () => ({ courierId: null }) };

  test('a hold that expires (ordering never recorded the reassignment): a running dispatch loop gives the order the courier when the hold ends, with no attempt spent on the hold (before: the order slept its whole backoff)', async () => {
    const courierId = await availableCourier('Evora');
    // A short lease, so that the test waits for the real expiry, as production would.
    await hold(courierId, 'Evora', 2_000);
    const order = await queue('Evora');
    const env = { unitOfWork: uow, orders: silentOrders };
    assert.deepEqual(await dispatchOnce(env, LONG_BACKOFF), { outcome: 'held', orderId: order.orderId }, 'no free courier, one held: wait for the hold');
    const waiting = await row(order.orderId);
    assert.deepEqual({ state: waiting.state, attempts: waiting.attempts }, { state: 'queued', attempts: 0 });
    assert.equal(waiting.next_attempt_at.getTime(), (await heldUntil(courierId)).getTime(), "due when the hold ends, not at the backoff's end");

    let assigned!: (courier: string) => void;
    const assignment = new Promise<string>((resolve) => (assigned = resolve));
    const orders: OrderCommands = { assignCourier: async ({ courierId: courier }) => assigned(courier), unassignCourier: async () => true, orderCourier: async () => ({ courierId: null }) };
    const stop = new AbortController();
    // The loop is idle until the hold ends: nothing but the order's own due time brings it back.
    const running = runDispatchLoop({ unitOfWork: uow, orders }, stop.signal, { ...LONG_BACKOFF, idleMs: 200 });
    try {
      assert.equal(await within(assignment, 30_000, 'the assignment once the hold has expired'), courierId);
    } finally {
      stop.abort();
      await running;
    }
    const done = await row(order.orderId);
    // One attempt: the claim that assigned it (the hold's retry counted nothing).
    assert.deepEqual({ state: done.state, attempts: done.attempts, courier: done.courier_id }, { state: 'assigned', attempts: 1, courier: courierId });
    assert.equal(await alerts(order.orderId), 0);
  });

  test("the last attempt finding only held couriers does not dead-letter the order: it waits for the earliest hold among the city's available couriers (before: dead, with an alert)", async () => {
    const [late, early] = [await availableCourier('Beja'), await availableCourier('Beja')];
    await hold(late, 'Beja', 600_000);
    await hold(early, 'Beja', 300_000);
    // Held, but offline (a courier delivery never saw): their hold's end frees no one for the dispatch.
    await hold(randomUUID(), 'Beja', 60_000);
    const order = await queue('Beja');
    const step = await dispatchOnce({ unitOfWork: uow, orders: silentOrders }, { ...LONG_BACKOFF, maxAttempts: 1 });
    assert.deepEqual(step, { outcome: 'held', orderId: order.orderId });
    const waiting = await row(order.orderId);
    assert.deepEqual({ state: waiting.state, attempts: waiting.attempts }, { state: 'queued', attempts: 0 });
    assert.equal(waiting.next_attempt_at.getTime(), (await heldUntil(early)).getTime());
    assert.equal(await alerts(order.orderId), 0);
  });

  test('a hold that outlasts the backoff changes nothing: the attempt counts and the order is due at its backoff, as without a hold', async () => {
    const courierId = await availableCourier('Tomar');
    await hold(courierId, 'Tomar', 600_000);
    const order = await queue('Tomar');
    const step = await dispatchOnce({ unitOfWork: uow, orders: silentOrders }, { backoff: { initialMs: 1_000, maxMs: 1_000 }, random: () => 1 });
    assert.deepEqual(step, { outcome: 'deferred', orderId: order.orderId });
    const waiting = await row(order.orderId);
    assert.deepEqual({ state: waiting.state, attempts: waiting.attempts }, { state: 'queued', attempts: 1 });
    assert.ok(waiting.next_attempt_at.getTime() < (await heldUntil(courierId)).getTime(), 'due at the backoff, before the hold ends');
  });
});
