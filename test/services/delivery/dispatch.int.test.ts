import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import type { Tx } from '../../../src/platform/db/index.ts';
import { UnprocessableError } from '../../../src/platform/errors/index.ts';
import { newMessageId, type Message } from '../../../src/platform/messaging/index.ts';
import { dispatchOnce, orderEventsHandler, type DispatchOptions, type OrderCommands } from '../../../src/services/delivery/index.ts';
import { claimAndAssign } from '../../../src/services/delivery/operations/claimAndAssign.ts';
import { finishOrder } from '../../../src/services/delivery/operations/finishOrder.ts';
import { recordCourierAssigned } from '../../../src/services/delivery/operations/recordCourierAssigned.ts';
import { addCouriers as addCouriersTo, addOrders as addOrdersTo, dispatchInvariants, settledOrBlocked, useDispatchDatabase } from './dispatchDatabase.ts';

const db = useDispatchDatabase(20);
const uow = db.uow;

/**
 * Ordering's assign-courier as far as delivery can tell: it remembers each order's courier, appends
 * nothing when the same courier is assigned again, and counts the calls. `fail` makes the next calls throw.
 */
function recordingOrders() {
  const courierOf = new Map<string, string>();
  const calls: Array<{ orderId: string; courierId: string }> = [];
  const reassigned: string[] = [];
  let fail: (() => Error) | null = null;
  const orders: OrderCommands = {
    async assignCourier({ orderId, courierId }) {
      calls.push({ orderId, courierId });
      if (fail !== null) throw fail();
      const before = courierOf.get(orderId);
      if (before !== undefined && before !== courierId) reassigned.push(orderId);
      courierOf.set(orderId, courierId);
    },
    async unassignCourier() {
      return true;
    },
    async orderCourier({ orderId }) {
      if (fail !== null) throw fail();
      return { courierId: courierOf.get(orderId) ?? null };
    },
  };
  return { orders, courierOf, calls, reassigned, failWith: (f: (() => Error) | null) => void (fail = f) };
}

const addCouriers = (city: string, count: number) => addCouriersTo(db.admin, city, count);
const addOrders = (city: string, tenants: readonly string[], count: number) => addOrdersTo(db.admin, city, tenants, count);

const system = { service: 'delivery', actor: { kind: 'system', id: 'delivery-test' } } as const;

/**
 * Forces an interleaving: `first` runs as the system actor in a transaction held open before its commit
 * while `second` runs in another, to its end or until it waits for a lock; then `first` commits and both end.
 */
async function whileHeld(first: (tx: Tx) => Promise<unknown>, second: (tx: Tx) => Promise<unknown>): Promise<void> {
  let worked!: () => void;
  let commit!: () => void;
  const didWork = new Promise<void>((resolve) => (worked = resolve));
  const released = new Promise<void>((resolve) => (commit = resolve));
  const held = uow(system, async (tx) => {
    await first(tx);
    worked();
    await released;
  });
  await Promise.race([didWork, held]);
  const other = uow(system, second);
  await settledOrBlocked(db.admin, other);
  commit();
  await Promise.all([held, other]);
}

/** Runs `workers` dispatch loops concurrently until each finds nothing due; returns every step's outcome. */
async function runWorkers(env: Parameters<typeof dispatchOnce>[0], workers: number, options: DispatchOptions) {
  const outcomes: string[] = [];
  await Promise.all(
    Array.from({ length: workers }, async () => {
      for (;;) {
        const step = await dispatchOnce(env, options);
        outcomes.push(step.outcome);
        if (step.outcome === 'idle') return;
      }
    }),
  );
  return outcomes;
}

describe('dispatch by competing workers', () => {
  test('8 workers, 200 orders, 50 couriers: each order gets exactly one courier, no courier holds two active orders', async () => {
    const tenants = [randomUUID(), randomUUID(), randomUUID()];
    const couriers = await addCouriers('Porto', 50);
    const orders = await addOrders('Porto', tenants, 200);
    const port = recordingOrders();
    const env = { unitOfWork: uow, orders: port.orders };
    // A long backoff: an order that found no courier waits for a freed courier to wake it, not for the clock.
    const options: DispatchOptions = { maxAttempts: 50, backoff: { initialMs: 600_000 }, contendedDelayMs: 0 };
    const perRound: number[] = [];
    const seenCouriers = new Set<string>();
    for (let round = 0; round < 8; round++) {
      const outcomes = await runWorkers(env, 8, options);
      await dispatchInvariants(db.admin);
      const active = await db.admin.query<{ tenant_id: string; order_id: string; courier_id: string }>(
        `select tenant_id, order_id, courier_id from delivery.dispatch_queue where state = 'assigned'`,
      );
      perRound.push(active.rowCount ?? 0);
      assert.equal(outcomes.filter((o) => o === 'assigned').length, active.rowCount, 'every assignment of the round is still active');
      assert.ok((active.rowCount ?? 0) <= couriers.length);
      for (const r of active.rows) seenCouriers.add(r.courier_id);
      if (active.rowCount === 0) break;
      // The couriers deliver (what the OrderDelivered consumer does), concurrently: each freed courier wakes one waiting order.
      await Promise.all(active.rows.map((r) => uow(system, (tx) => finishOrder(tx, { tenantId: r.tenant_id, orderId: r.order_id, reason: 'delivered' }))));
    }
    assert.deepEqual(perRound, [50, 50, 50, 50, 0], `assignments per round: ${perRound.join(', ')}`);
    const states = await db.admin.query<{ state: string; n: number }>(`select state, count(*)::int as n from delivery.dispatch_queue group by state`);
    assert.deepEqual(states.rows, [{ state: 'delivered', n: 200 }]);
    const history = await db.admin.query<{ order_id: string; n: number }>(`select order_id, count(*)::int as n from delivery.assignments group by order_id`);
    assert.equal(history.rowCount, 200);
    assert.ok(history.rows.every((r) => r.n === 1), 'each order was assigned exactly once');
    assert.equal(port.calls.length, 200, 'ordering was told once per order');
    assert.deepEqual(new Set(port.calls.map((c) => c.orderId)), new Set(orders.map((o) => o.orderId)));
    assert.deepEqual(port.reassigned, []);
    assert.equal(seenCouriers.size, 50, 'every courier worked');
    const alerts = await db.admin.query('select 1 from delivery.dispatch_alerts');
    assert.equal(alerts.rowCount, 0, 'no order was dead-lettered while couriers were coming free');
  });

  test('a worker skips the order and the courier another worker holds, and takes the next ones (forced interleaving)', async () => {
    const [first, second] = await addCouriers('Lisbon', 2);
    const [o1, o2] = await addOrders('Lisbon', [randomUUID()], 2);
    const port = recordingOrders();
    const holder = await db.admin.connect();
    try {
      await holder.query('begin');
      // What a competing worker holds mid-transaction: the oldest order and the longest-waiting courier.
      await holder.query('select 1 from delivery.dispatch_queue where order_id = $1 for update', [o1!.orderId]);
      await holder.query('select 1 from delivery.courier_availability where courier_id = $1 for update', [first]);
      const step = await dispatchOnce({ unitOfWork: uow, orders: port.orders });
      assert.deepEqual(step, { outcome: 'assigned', orderId: o2!.orderId, courierId: second });
      await holder.query('commit');
    } finally {
      holder.release();
    }
    const step = await dispatchOnce({ unitOfWork: uow, orders: port.orders });
    assert.deepEqual(step, { outcome: 'assigned', orderId: o1!.orderId, courierId: first });
    await dispatchInvariants(db.admin);
  });

  test('no courier: backoff with jitter, then dead letter with an alert row and DispatchFailed in the outbox', async () => {
    const tenant = randomUUID();
    const [order] = await addOrders('Faro', [tenant], 1);
    const port = recordingOrders();
    const env = { unitOfWork: uow, orders: port.orders };
    const options: DispatchOptions = { maxAttempts: 3, backoff: { initialMs: 10_000, factor: 2 }, random: () => 1 };
    const delays: Array<{ delay: number; took: number }> = [];
    const clock = async () => (await db.admin.query<{ t: string }>(`select clock_timestamp()::text as t`)).rows[0]!.t;
    for (let attempt = 1; attempt <= 2; attempt++) {
      // The delay counts from the dispatch transaction's start, somewhere between these two instants.
      const before = await clock();
      assert.deepEqual(await dispatchOnce(env, options), { outcome: 'deferred', orderId: order!.orderId });
      const after = await clock();
      const row = await db.admin.query<{ attempts: number; delay: number; took: number; state: string }>(
        `select attempts, state, extract(epoch from next_attempt_at - $2::timestamptz)::float8 * 1000 as delay,
                extract(epoch from $3::timestamptz - $2::timestamptz)::float8 * 1000 as took
           from delivery.dispatch_queue where order_id = $1`,
        [order!.orderId, before, after],
      );
      assert.equal(row.rows[0]!.attempts, attempt);
      assert.equal(row.rows[0]!.state, 'queued');
      delays.push({ delay: row.rows[0]!.delay, took: row.rows[0]!.took });
      assert.deepEqual(await dispatchOnce(env, options), { outcome: 'idle' }, 'backing off: not due');
      // Time passes (the test moves the clock of the row instead of sleeping).
      await db.admin.query(`update delivery.dispatch_queue set next_attempt_at = now() where order_id = $1`, [order!.orderId]);
    }
    // random() = 1: the upper end of each step, 10 s then 20 s from the dispatch transaction's start.
    const within = ({ delay, took }: { delay: number; took: number }, ms: number) => delay >= ms && delay <= ms + took;
    assert.ok(within(delays[0]!, 10_000), `first delay ${JSON.stringify(delays[0])}`);
    assert.ok(within(delays[1]!, 20_000), `second delay ${JSON.stringify(delays[1])}`);
    assert.deepEqual(await dispatchOnce(env, options), { outcome: 'dead', orderId: order!.orderId });
    const queue = await db.admin.query(`select state, attempts, last_error from delivery.dispatch_queue where order_id = $1`, [order!.orderId]);
    assert.deepEqual(queue.rows, [{ state: 'dead', attempts: 3, last_error: 'no courier available in Faro after 3 attempts: assign a courier to the order or cancel it' }]);
    // The reason staff read on the board says what to do, as a given-up notice's does.
    const reason = 'no courier available in Faro after 3 attempts: assign a courier to the order or cancel it';
    const alerts = await db.admin.query(`select tenant_id, order_id, city, attempts, reason from delivery.dispatch_alerts`);
    assert.deepEqual(alerts.rows, [{ tenant_id: tenant, order_id: order!.orderId, city: 'Faro', attempts: 3, reason }]);
    const outbox = await db.admin.query<{ subject: string; aggregate_key: string; headers: Record<string, string>; payload: Record<string, unknown> }>(
      `select subject, aggregate_key, headers, payload from delivery.outbox`,
    );
    assert.equal(outbox.rowCount, 1);
    const message = outbox.rows[0]!;
    assert.equal(message.subject, 'delivery.dispatch.DispatchFailed');
    assert.equal(message.aggregate_key, order!.orderId);
    assert.equal(message.headers.tenant, tenant);
    assert.equal(message.payload.orderId, order!.orderId);
    assert.equal(message.payload.city, 'Faro');
    assert.equal(message.payload.attempts, 3);
    assert.equal(message.payload.reason, reason);
    assert.deepEqual(port.calls, []);
    assert.deepEqual(await dispatchOnce(env, options), { outcome: 'idle' }, 'a dead order is not retried');
  });

  test('a courier freed while an order backs off wakes it; an attempt is spent only when no courier is free', async () => {
    const [order] = await addOrders('Braga', [randomUUID()], 1);
    const port = recordingOrders();
    const env = { unitOfWork: uow, orders: port.orders };
    const options: DispatchOptions = { maxAttempts: 5, backoff: { initialMs: 600_000 } };
    assert.equal((await dispatchOnce(env, options)).outcome, 'deferred');
    // Another order is carried by a courier of the city; its delivery frees the courier.
    const tenant = randomUUID();
    const [busy] = await addOrders('Braga', [tenant], 1);
    const [courier] = await addCouriers('Braga', 1);
    await db.admin.query(`update delivery.dispatch_queue set ready_at = now() where order_id = $1`, [busy!.orderId]);
    assert.deepEqual(await dispatchOnce(env, options), { outcome: 'assigned', orderId: busy!.orderId, courierId: courier });
    assert.deepEqual(await dispatchOnce(env, options), { outcome: 'idle' });
    await uow(system, (tx) => finishOrder(tx, { tenantId: tenant, orderId: busy!.orderId, reason: 'delivered' }));
    assert.deepEqual(await dispatchOnce(env, options), { outcome: 'assigned', orderId: order!.orderId, courierId: courier });
    const row = await db.admin.query(`select attempts from delivery.dispatch_queue where order_id = $1`, [order!.orderId]);
    assert.equal(row.rows[0].attempts, 2, 'one attempt without a courier, one that assigned');
  });

  test('ordering unreachable after the commit: the assignment stays, is retried, and ordering is told the same courier', async () => {
    const [order] = await addOrders('Aveiro', [randomUUID()], 1);
    const [courier] = await addCouriers('Aveiro', 1);
    const port = recordingOrders();
    const env = { unitOfWork: uow, orders: port.orders };
    port.failWith(() => new Error('ordering unreachable'));
    assert.deepEqual(await dispatchOnce(env), { outcome: 'notify-failed', orderId: order!.orderId, courierId: courier });
    const pending = await db.admin.query(`select state, courier_id, notified_at, last_error from delivery.dispatch_queue where order_id = $1`, [order!.orderId]);
    assert.deepEqual(pending.rows, [{ state: 'assigned', courier_id: courier, notified_at: null, last_error: 'ordering unreachable' }]);
    assert.deepEqual(await dispatchOnce(env), { outcome: 'idle' }, 'the retry waits for its backoff');
    // Each failed notice doubles the wait (random 1: the top of each jittered step, 1 s → 2 s → 4 s);
    // read back a moment later, so each wait is just under its step.
    const waits: number[] = [];
    for (let i = 0; i < 2; i++) {
      await db.admin.query(`update delivery.dispatch_queue set next_attempt_at = now() where order_id = $1`, [order!.orderId]);
      assert.equal((await dispatchOnce(env, { random: () => 1 })).outcome, 'notify-failed');
      const due = await db.admin.query(`select notify_attempts, extract(epoch from next_attempt_at - now()) * 1000 as wait_ms from delivery.dispatch_queue where order_id = $1`, [order!.orderId]);
      waits.push(Math.ceil(Number(due.rows[0].wait_ms) / 1000));
      assert.equal(due.rows[0].notify_attempts, i + 2);
    }
    assert.deepEqual(waits, [2, 4], 'seconds until the next notice');
    port.failWith(null);
    await db.admin.query(`update delivery.dispatch_queue set next_attempt_at = now() where order_id = $1`, [order!.orderId]);
    assert.deepEqual(await dispatchOnce(env), { outcome: 'assigned', orderId: order!.orderId, courierId: courier });
    assert.deepEqual(port.calls.map((c) => c.courierId), [courier, courier, courier, courier]);
    assert.deepEqual(port.reassigned, []);
    const done = await db.admin.query(`select notified_at is not null as notified from delivery.dispatch_queue where order_id = $1`, [order!.orderId]);
    assert.equal(done.rows[0].notified, true);
    assert.deepEqual(await dispatchOnce(env), { outcome: 'idle' });
  });

  test('ordering refuses the assignment (order cancelled meanwhile): the assignment is dropped and the courier is free again', async () => {
    const tenant = randomUUID();
    const [order] = await addOrders('Evora', [tenant], 1);
    const [courier] = await addCouriers('Evora', 1);
    const port = recordingOrders();
    port.failWith(() => new UnprocessableError('ORDER_TRANSITION_FORBIDDEN', 'Cannot assign-courier an order that is cancelled'));
    assert.deepEqual(await dispatchOnce({ unitOfWork: uow, orders: port.orders }), { outcome: 'dropped', orderId: order!.orderId, courierId: courier });
    const rows = () =>
      db.admin.query(
        `select q.state, a.status, a.current_order_id from delivery.dispatch_queue q, delivery.courier_availability a where q.order_id = $1 and a.courier_id = $2`,
        [order!.orderId, courier],
      );
    assert.deepEqual((await rows()).rows, [{ state: 'dropped', status: 'available', current_order_id: null }]);
    // Its OrderCancelled ends the dropped order, so a CourierAssigned from before the cancel, handled late, makes nobody busy.
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Evora') });
    await handle(orderEvent('OrderCancelled', tenant, { orderId: order!.orderId }));
    await handle(orderEvent('CourierAssigned', tenant, { orderId: order!.orderId, courierId: courier! }, newMessageId(Date.now() - 60_000)));
    assert.deepEqual((await rows()).rows, [{ state: 'cancelled', status: 'available', current_order_id: null }]);
  });

  test('ordering never told: after maxNotifyAttempts failed notices staff are alerted (saying what to do, no internal error), the courier stays busy with the order, and the notices go on until ordering answers', async () => {
    const tenant = randomUUID();
    const [order] = await addOrders('Viseu', [tenant], 1);
    const [courier] = await addCouriers('Viseu', 1);
    const port = recordingOrders();
    const internal = 'connect ECONNREFUSED 10.0.3.7:5432 (relation "ordering.events" does not exist)';
    port.failWith(() => new Error(internal));
    const env = { unitOfWork: uow, orders: port.orders };
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      // Time passes: the next notice is due (the test moves the row's clock instead of sleeping).
      await db.admin.query(`update delivery.dispatch_queue set next_attempt_at = now() where order_id = $1`, [order!.orderId]);
      outcomes.push((await dispatchOnce(env, { maxNotifyAttempts: 3 })).outcome);
    }
    assert.deepEqual(outcomes, ['notify-failed', 'notify-failed', 'unconfirmed', 'notify-failed'], 'one alert, then the notices go on');
    const queue = await db.admin.query(`select state, courier_id, notified_at, notify_attempts, last_error from delivery.dispatch_queue where order_id = $1`, [order!.orderId]);
    assert.deepEqual([queue.rows[0].state, queue.rows[0].courier_id, queue.rows[0].notified_at, queue.rows[0].notify_attempts], ['assigned', courier, null, 4]);
    assert.ok(queue.rows[0].last_error.includes(internal), queue.rows[0].last_error);
    // Kept: ordering may have recorded the assignment with only its answer lost.
    const kept = await db.admin.query(`select status, current_order_id from delivery.courier_availability where courier_id = $1`, [courier]);
    assert.deepEqual(kept.rows, [{ status: 'busy', current_order_id: order!.orderId }]);
    const history = await db.admin.query(`select release_reason from delivery.assignments where order_id = $1`, [order!.orderId]);
    assert.deepEqual(history.rows, [{ release_reason: null }]);
    // The alert, for the board, which staff read: what to do, and none of the internal error.
    const reason = `The courier found for this order (${courier}) could not be confirmed after 3 attempts. They are kept for the order while the dispatch keeps trying; to settle it now, assign a courier to the order or cancel it.`;
    const alerts = await db.admin.query(`select tenant_id, city, attempts, reason from delivery.dispatch_alerts`);
    assert.deepEqual(alerts.rows, [{ tenant_id: tenant, city: 'Viseu', attempts: 3, reason }]);
    const outbox = await db.admin.query<{ subject: string; payload: Record<string, unknown> }>(`select subject, payload from delivery.outbox`);
    assert.deepEqual(outbox.rows.map((m) => [m.subject, m.payload.orderId, m.payload.reason]), [['delivery.dispatch.DispatchFailed', order!.orderId, reason]]);
    assert.ok(!JSON.stringify(outbox.rows[0]!.payload).includes('ECONNREFUSED'), 'the internal error reached the alert');
    await dispatchInvariants(db.admin);
    // Ordering answers again: the next notice confirms the courier.
    port.failWith(null);
    await db.admin.query(`update delivery.dispatch_queue set next_attempt_at = now() where order_id = $1`, [order!.orderId]);
    assert.deepEqual(await dispatchOnce(env, { maxNotifyAttempts: 3 }), { outcome: 'assigned', orderId: order!.orderId, courierId: courier });
    assert.equal(port.courierOf.get(order!.orderId), courier);
    assert.equal(port.calls.length, 5);
    assert.equal((await db.admin.query(`select 1 from delivery.dispatch_queue where order_id = $1 and notified_at is not null`, [order!.orderId])).rowCount, 1);
    assert.equal((await db.admin.query('select 1 from delivery.dispatch_alerts')).rowCount, 1, 'no second alert');
    await dispatchInvariants(db.admin);
  });

  test('two notices of one assignment at once (the first outlives its lease): the count still reaches maxNotifyAttempts once and staff are alerted once (before: it jumped past it, no alert ever; forced interleaving)', async () => {
    const tenant = randomUUID();
    const [order] = await addOrders('Viseu', [tenant], 1);
    const [courier] = await addCouriers('Viseu', 1);
    // Ordering never answers with success; its second call hangs until the test lets it fail.
    let calls = 0;
    let hanging!: () => void;
    let fail!: () => void;
    const didHang = new Promise<void>((resolve) => (hanging = resolve));
    const failNow = new Promise<void>((resolve) => (fail = resolve));
    const orders: OrderCommands = {
      async assignCourier() {
        calls += 1;
        if (calls === 2) {
          hanging();
          await failNow;
        }
        throw new Error('ordering unreachable');
      },
      unassignCourier: async () => true, orderCourier: async () => ({ courierId: null }),
    };
    const env = { unitOfWork: uow, orders };
    // The test ends the lease itself (`due`); a long one keeps the hanging call within its time limit
    // (half the lease), which would otherwise give it up first (decision 0042, forty-ninth session).
    const options: DispatchOptions = { maxNotifyAttempts: 3, notifyLeaseMs: 10_000 };
    const due = () => db.admin.query(`update delivery.dispatch_queue set next_attempt_at = now() where order_id = $1`, [order!.orderId]);
    assert.equal((await dispatchOnce(env, options)).outcome, 'notify-failed', 'the first notice (count 1)');
    await due();
    // The second notice claims the row with count 1 and hangs in ordering past its lease.
    const slow = dispatchOnce(env, options);
    await didHang;
    await due();
    // Another worker claims the same row, also with count 1, and fails at once (count 2).
    assert.equal((await dispatchOnce(env, options)).outcome, 'notify-failed');
    fail();
    // The slow one fails too: the third failure, the one that alerts.
    assert.equal((await slow).outcome, 'unconfirmed');
    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      await due();
      outcomes.push((await dispatchOnce(env, options)).outcome);
    }
    assert.deepEqual(outcomes, ['notify-failed', 'notify-failed', 'notify-failed'], 'the notices go on, with no second alert');
    const row = await db.admin.query(`select state, courier_id, notified_at, notify_attempts from delivery.dispatch_queue where order_id = $1`, [order!.orderId]);
    assert.deepEqual(row.rows, [{ state: 'assigned', courier_id: courier, notified_at: null, notify_attempts: 6 }]);
    const alerts = await db.admin.query(`select order_id, attempts from delivery.dispatch_alerts`);
    assert.deepEqual(alerts.rows, [{ order_id: order!.orderId, attempts: 3 }], 'staff alerted exactly once');
    assert.equal((await db.admin.query(`select 1 from delivery.outbox where subject = 'delivery.dispatch.DispatchFailed'`)).rowCount, 1);
    await dispatchInvariants(db.admin);
  });

  test("a new assignment of an order queued again counts its own failed notices, not an earlier assignment's", async () => {
    const [order] = await addOrders('Viseu', [randomUUID()], 1);
    const [courier] = await addCouriers('Viseu', 1);
    // An earlier assignment's notices failed before the order was dropped and queued again.
    await db.admin.query(`update delivery.dispatch_queue set notify_attempts = 5 where order_id = $1`, [order!.orderId]);
    const port = recordingOrders();
    port.failWith(() => new Error('ordering unreachable'));
    const env = { unitOfWork: uow, orders: port.orders };
    assert.deepEqual(await dispatchOnce(env, { maxNotifyAttempts: 2 }), { outcome: 'notify-failed', orderId: order!.orderId, courierId: courier });
    await db.admin.query(`update delivery.dispatch_queue set next_attempt_at = now() where order_id = $1`, [order!.orderId]);
    assert.deepEqual(await dispatchOnce(env, { maxNotifyAttempts: 2 }), { outcome: 'unconfirmed', orderId: order!.orderId, courierId: courier });
    assert.equal((await db.admin.query(`select notify_attempts from delivery.dispatch_queue where order_id = $1`, [order!.orderId])).rows[0].notify_attempts, 2);
  });

  test("after the alert for an unconfirmed assignment, ordering's late CourierAssigned finds the courier still on the order, and the dispatch gives them no other order meanwhile (before: freed, dispatched to another order, then given both)", async () => {
    const tenant = randomUUID();
    const [y] = await addOrders('Viseu', [tenant], 1);
    const [courier] = await addCouriers('Viseu', 1);
    const port = recordingOrders();
    // Ordering committed the assignment but its answers were lost; later notices fail.
    port.failWith(() => new Error('ordering timed out'));
    const env = { unitOfWork: uow, orders: port.orders };
    assert.deepEqual(await dispatchOnce(env, { maxNotifyAttempts: 1 }), { outcome: 'unconfirmed', orderId: y!.orderId, courierId: courier });
    const [x] = await addOrders('Viseu', [tenant], 1);
    const claim = await uow(system, (tx) => claimAndAssign(tx, { notifyLeaseMs: 600_000 }));
    assert.equal(claim.job?.orderId, x!.orderId);
    assert.equal(claim.job === null ? undefined : claim.courierId, null, 'the courier kept for Y is not given X');
    const late = await uow(system, (tx) => recordCourierAssigned(tx, { tenantId: tenant, orderId: y!.orderId, courierId: courier!, messageId: newMessageId(), assignment: 1, city: 'Viseu' }));
    assert.equal(late, 'confirmed');
    assert.deepEqual(await courierRow(courier!), { status: 'busy', current_order_id: y!.orderId });
    await dispatchInvariants(db.admin);
  });

  test('after the alert for an unconfirmed assignment, staff cancelling the order free the courier', async () => {
    const tenant = randomUUID();
    const [y] = await addOrders('Viseu', [tenant], 1);
    const [courier] = await addCouriers('Viseu', 1);
    const port = recordingOrders();
    port.failWith(() => new Error('ordering timed out'));
    assert.equal((await dispatchOnce({ unitOfWork: uow, orders: port.orders }, { maxNotifyAttempts: 1 })).outcome, 'unconfirmed');
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Viseu') });
    await handle(orderEvent('OrderCancelled', tenant, { orderId: y!.orderId }));
    assert.deepEqual(await courierRow(courier!), { status: 'available', current_order_id: null });
    assert.equal((await queueRow(y!.orderId)).state, 'cancelled');
    await dispatchInvariants(db.admin);
  });

  test('the last notice fails but ordering confirmed the courier meanwhile (its CourierAssigned): the assignment stands, nothing is dead-lettered', async () => {
    const tenant = randomUUID();
    const [order] = await addOrders('Viseu', [tenant], 1);
    const [courier] = await addCouriers('Viseu', 1);
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Viseu') });
    const orders: OrderCommands = {
      async assignCourier({ orderId, courierId }) {
        // Ordering recorded it (its answer is lost): its CourierAssigned arrives while the notice fails.
        await handle(orderEvent('CourierAssigned', tenant, { orderId, courierId }));
        throw new Error('ordering timed out');
      },
      unassignCourier: async () => true, orderCourier: async () => ({ courierId: null }),
    };
    assert.deepEqual(await dispatchOnce({ unitOfWork: uow, orders }, { maxNotifyAttempts: 1 }), { outcome: 'notify-failed', orderId: order!.orderId, courierId: courier });
    const row = await db.admin.query(`select state, courier_id, notified_at is not null as notified from delivery.dispatch_queue where order_id = $1`, [order!.orderId]);
    assert.deepEqual(row.rows, [{ state: 'assigned', courier_id: courier, notified: true }]);
    assert.equal((await db.admin.query('select 1 from delivery.dispatch_alerts')).rowCount, 0);
    await dispatchInvariants(db.admin);
  });
});

/** A restaurant directory that puts every restaurant in `city`. */
const cityOf = (city: string) => ({ restaurant: async (id: string) => ({ id, city }) });

/** An order event as ordering's outbox sends it (message ids are UUID v7: `id` sets an older one). */
function orderEvent(type: string, tenant: string, payload: { orderId: string; courierId?: string; assignment?: number }, id = newMessageId()): Message {
  return { id, subject: `ordering.order.${type}`, key: payload.orderId, headers: { tenant, correlation: id, causation: '', traceparent: '' }, payload, attempt: 1 };
}

async function courierRow(courierId: string) {
  return (await db.admin.query(`select status, current_order_id from delivery.courier_availability where courier_id = $1`, [courierId])).rows[0];
}

async function queueRow(orderId: string) {
  return (await db.admin.query(`select state, courier_id, notified_at is not null as notified from delivery.dispatch_queue where order_id = $1`, [orderId])).rows[0];
}

describe("ordering's CourierAssigned: a courier staff chose is busy in delivery", () => {
  test('staff\'s courier gets no other order from the dispatch, the order\'s job is settled, and its delivery frees them', async () => {
    const tenant = randomUUID();
    const [chosen] = await addCouriers('Coimbra', 1);
    const [o1, o2] = await addOrders('Coimbra', [tenant], 2);
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Coimbra') });
    const port = recordingOrders();
    const env = { unitOfWork: uow, orders: port.orders };
    const options: DispatchOptions = { backoff: { initialMs: 600_000 } };
    await handle(orderEvent('CourierAssigned', tenant, { orderId: o1!.orderId, courierId: chosen! }));
    assert.deepEqual(await queueRow(o1!.orderId), { state: 'assigned', courier_id: chosen, notified: true });
    assert.deepEqual(await courierRow(chosen!), { status: 'busy', current_order_id: o1!.orderId });
    // The oldest order is settled; the next finds no courier: the chosen one is busy.
    assert.deepEqual(await dispatchOnce(env, options), { outcome: 'deferred', orderId: o2!.orderId });
    assert.deepEqual(port.calls, [], 'ordering is not told what it decided');
    await dispatchInvariants(db.admin);
    await handle(orderEvent('OrderDelivered', tenant, { orderId: o1!.orderId }));
    assert.deepEqual(await courierRow(chosen!), { status: 'available', current_order_id: null });
    // The freed courier woke the order that was backing off.
    assert.deepEqual(await dispatchOnce(env, options), { outcome: 'assigned', orderId: o2!.orderId, courierId: chosen });
    await dispatchInvariants(db.admin);
  });

  test('staff\'s courier replaces the dispatch\'s while its notice is in flight: the dispatch\'s courier is freed, and the refused notice leaves staff\'s courier busy (forced interleaving)', async () => {
    const tenant = randomUUID();
    const [dispatched, chosen] = await addCouriers('Setubal', 2);
    const [order] = await addOrders('Setubal', [tenant], 1);
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Setubal') });
    const orders: OrderCommands = {
      async assignCourier({ orderId }) {
        // Staff chose first: ordering's CourierAssigned reaches delivery, then ordering refuses the dispatch's courier.
        await handle(orderEvent('CourierAssigned', tenant, { orderId, courierId: chosen! }));
        throw new UnprocessableError('ORDER_COURIER_TAKEN', `Order ${orderId} already has courier ${chosen}`);
      },
      unassignCourier: async () => true, orderCourier: async () => ({ courierId: chosen! }),
    };
    assert.deepEqual(await dispatchOnce({ unitOfWork: uow, orders }), { outcome: 'dropped', orderId: order!.orderId, courierId: dispatched });
    assert.deepEqual(await queueRow(order!.orderId), { state: 'assigned', courier_id: chosen, notified: true });
    assert.deepEqual(await courierRow(chosen!), { status: 'busy', current_order_id: order!.orderId });
    assert.deepEqual(await courierRow(dispatched!), { status: 'available', current_order_id: null });
    const history = await db.admin.query(`select courier_id, release_reason from delivery.assignments where order_id = $1 order by released_at nulls last`, [order!.orderId]);
    assert.deepEqual(history.rows, [{ courier_id: dispatched, release_reason: 'reassigned' }, { courier_id: chosen, release_reason: null }]);
    await dispatchInvariants(db.admin);
  });

  test('twice, out of order, before OrderReady, after OrderCancelled: the newest assignment of a live order holds, and no courier stays busy for an order that ended', async () => {
    const tenant = randomUUID();
    const [first, second] = await addCouriers('Leiria', 2);
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Leiria') });
    const orderId = randomUUID();
    const older = newMessageId(Date.now() - 60_000);
    // Staff assigned before the order was ready: OrderReady then queues nothing.
    const assigned = orderEvent('CourierAssigned', tenant, { orderId, courierId: second! });
    await handle(assigned);
    await handle(orderEvent('OrderReady', tenant, { orderId }));
    assert.deepEqual(await queueRow(orderId), { state: 'assigned', courier_id: second, notified: true });
    // An older assignment delivered late (a retry) is ignored; the same message twice is claimed once.
    await handle(orderEvent('CourierAssigned', tenant, { orderId, courierId: first! }, older));
    await handle(assigned);
    assert.deepEqual(await queueRow(orderId), { state: 'assigned', courier_id: second, notified: true });
    assert.deepEqual([await courierRow(first!), await courierRow(second!)], [{ status: 'available', current_order_id: null }, { status: 'busy', current_order_id: orderId }]);
    // A newer one (staff reassigned) moves the order and frees the courier it replaces.
    await handle(orderEvent('CourierAssigned', tenant, { orderId, courierId: first! }));
    assert.deepEqual([await courierRow(first!), await courierRow(second!)], [{ status: 'busy', current_order_id: orderId }, { status: 'available', current_order_id: null }]);
    await dispatchInvariants(db.admin);
    await handle(orderEvent('OrderCancelled', tenant, { orderId }));
    await handle(orderEvent('CourierAssigned', tenant, { orderId, courierId: second! }));
    assert.deepEqual(await queueRow(orderId), { state: 'cancelled', courier_id: first, notified: true });
    assert.deepEqual([await courierRow(first!), await courierRow(second!)], [{ status: 'available', current_order_id: null }, { status: 'available', current_order_id: null }]);
    // Cancelled before delivery had a row for it, its CourierAssigned handled late: nobody is made busy.
    const early = randomUUID();
    const lateAssignment = orderEvent('CourierAssigned', tenant, { orderId: early, courierId: second! });
    await handle(orderEvent('OrderCancelled', tenant, { orderId: early }));
    await handle(lateAssignment);
    assert.equal((await queueRow(early)).state, 'cancelled');
    assert.deepEqual(await courierRow(second!), { status: 'available', current_order_id: null });
    await dispatchInvariants(db.admin);
  });

  test("numbered assignments are ordered by their number, not by message ids from two instances' clocks; unnumbered ones (recorded before the number) by message id", async () => {
    const tenant = randomUUID();
    const [first, second, third] = await addCouriers('Viseu', 3);
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Viseu') });
    const orderId = randomUUID();
    // Staff reassigned the order on two instances, the second's clock a minute behind the first's:
    // assignment 2 has the later message id, and arrives after assignment 3.
    await handle(orderEvent('CourierAssigned', tenant, { orderId, courierId: third!, assignment: 3 }, newMessageId(Date.now() - 60_000)));
    await handle(orderEvent('CourierAssigned', tenant, { orderId, courierId: second!, assignment: 2 }, newMessageId(Date.now())));
    // Before the number, the later message id won: the order went back to the replaced courier.
    assert.deepEqual(await queueRow(orderId), { state: 'assigned', courier_id: third, notified: true });
    assert.deepEqual([await courierRow(second!), await courierRow(third!)], [{ status: 'available', current_order_id: null }, { status: 'busy', current_order_id: orderId }]);
    await dispatchInvariants(db.admin);

    // An order whose assignment was applied before the number existed: a numbered one meets it by message id.
    const before = randomUUID();
    await handle(orderEvent('CourierAssigned', tenant, { orderId: before, courierId: first! }, newMessageId(Date.now() - 30_000)));
    await handle(orderEvent('CourierAssigned', tenant, { orderId: before, courierId: second!, assignment: 2 }, newMessageId(Date.now() - 90_000)));
    assert.equal((await queueRow(before)).courier_id, first, 'an older message id is older, as before');
    await handle(orderEvent('CourierAssigned', tenant, { orderId: before, courierId: second!, assignment: 2 }));
    assert.equal((await queueRow(before)).courier_id, second);
    await dispatchInvariants(db.admin);
  });

  test('a courier staff gives two orders stays busy until both ended', async () => {
    const tenant = randomUUID();
    const [chosen] = await addCouriers('Tomar', 1);
    const [o1, o2] = await addOrders('Tomar', [tenant], 2);
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Tomar') });
    await handle(orderEvent('CourierAssigned', tenant, { orderId: o1!.orderId, courierId: chosen! }));
    await handle(orderEvent('CourierAssigned', tenant, { orderId: o2!.orderId, courierId: chosen! }));
    assert.deepEqual(await queueRow(o2!.orderId), { state: 'assigned', courier_id: chosen, notified: true });
    await handle(orderEvent('OrderDelivered', tenant, { orderId: o1!.orderId }));
    assert.deepEqual(await courierRow(chosen!), { status: 'busy', current_order_id: o2!.orderId }, 'still carrying the second order');
    await handle(orderEvent('OrderDelivered', tenant, { orderId: o2!.orderId }));
    assert.deepEqual(await courierRow(chosen!), { status: 'available', current_order_id: null });
    await dispatchInvariants(db.admin);
  });

  test('two orders of one courier delivered at once: the courier ends available, not busy with an order already delivered (forced interleaving)', async () => {
    const tenant = randomUUID();
    const [courier] = await addCouriers('Lagos', 1);
    const [x, y] = [randomUUID(), randomUUID()];
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Lagos') });
    await handle(orderEvent('CourierAssigned', tenant, { orderId: x, courierId: courier! }));
    await handle(orderEvent('CourierAssigned', tenant, { orderId: y, courierId: courier! }));
    // X's delivery moves the courier on to Y and waits before its commit; Y's delivery runs meanwhile.
    await whileHeld(
      (tx) => finishOrder(tx, { tenantId: tenant, orderId: x, reason: 'delivered' }),
      (tx) => finishOrder(tx, { tenantId: tenant, orderId: y, reason: 'delivered' }),
    );
    assert.deepEqual([(await queueRow(x)).state, (await queueRow(y)).state], ['delivered', 'delivered']);
    assert.deepEqual(await courierRow(courier!), { status: 'available', current_order_id: null });
    await dispatchInvariants(db.admin);
  });

  test('staff give a busy courier another order while their current one is delivered: the courier ends busy with the new one (forced interleaving)', async () => {
    const tenant = randomUUID();
    const [courier] = await addCouriers('Lagos', 1);
    const [x, y] = [randomUUID(), randomUUID()];
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Lagos') });
    await handle(orderEvent('CourierAssigned', tenant, { orderId: y, courierId: courier! }));
    // Staff's assignment of X waits before its commit; Y's delivery runs meanwhile.
    await whileHeld(
      (tx) => recordCourierAssigned(tx, { tenantId: tenant, orderId: x, courierId: courier!, messageId: newMessageId(), assignment: null, city: 'Lagos' }),
      (tx) => finishOrder(tx, { tenantId: tenant, orderId: y, reason: 'delivered' }),
    );
    assert.deepEqual(await queueRow(x), { state: 'assigned', courier_id: courier, notified: true });
    assert.deepEqual(await courierRow(courier!), { status: 'busy', current_order_id: x });
    await dispatchInvariants(db.admin);
  });

  test('staff swap two couriers between two orders at the same moment: no deadlock (forced interleaving)', async () => {
    const tenant = randomUUID();
    const [a, b] = await addCouriers('Tomar', 2);
    const [x, y] = [randomUUID(), randomUUID()];
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Tomar') });
    await handle(orderEvent('CourierAssigned', tenant, { orderId: x, courierId: a!, assignment: 1 }));
    await handle(orderEvent('CourierAssigned', tenant, { orderId: y, courierId: b!, assignment: 1 }));
    // A session holds B's row: X's move to B waits for it; Y's move to A then takes A and waits for B
    // too. When B is let go, X's move held B and asked for A, which Y's held: before, a deadlock.
    const holder = await db.admin.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from delivery.courier_availability where courier_id = $1 for update', [b]);
      const assign = (orderId: string, courierId: string) =>
        uow(system, (tx) => recordCourierAssigned(tx, { tenantId: tenant, orderId, courierId, messageId: newMessageId(), assignment: 2, city: 'Tomar' }));
      const xToB = assign(x, b!);
      assert.equal(await settledOrBlocked(db.admin, xToB), 'blocked');
      const yToA = assign(y, a!);
      assert.equal(await settledOrBlocked(db.admin, yToA, 2), 'blocked');
      await holder.query('commit');
      assert.deepEqual(await Promise.all([xToB, yToA]), ['assigned', 'assigned']);
    } finally {
      await holder.query('rollback').catch(() => undefined);
      holder.release();
    }
    assert.deepEqual([(await queueRow(x)).courier_id, (await queueRow(y)).courier_id], [b, a]);
    assert.deepEqual([await courierRow(a!), await courierRow(b!)], [{ status: 'busy', current_order_id: y }, { status: 'busy', current_order_id: x }]);
    await dispatchInvariants(db.admin);
  });

  test('staff move an order to a courier whose other order is being delivered: no deadlock between the two (forced interleaving)', async () => {
    const tenant = randomUUID();
    const [replaced, chosen] = await addCouriers('Sines', 2);
    const [x, z] = [randomUUID(), randomUUID()];
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Sines') });
    await handle(orderEvent('CourierAssigned', tenant, { orderId: x, courierId: replaced! }));
    await handle(orderEvent('CourierAssigned', tenant, { orderId: z, courierId: chosen! }));
    // Z's delivery is held between locking its courier and taking the city lock (a session holds the
    // assignment row it updates in between); staff's move of X to that courier runs meanwhile.
    const holder = await db.admin.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from delivery.assignments where order_id = $1 and courier_id = $2 for update', [z, chosen]);
      const delivered = uow(system, (tx) => finishOrder(tx, { tenantId: tenant, orderId: z, reason: 'delivered' }));
      await settledOrBlocked(db.admin, delivered);
      const moved = uow(system, (tx) => recordCourierAssigned(tx, { tenantId: tenant, orderId: x, courierId: chosen!, messageId: newMessageId(), assignment: 1, city: 'Sines' }));
      await settledOrBlocked(db.admin, moved, 2);
      await holder.query('commit');
      const outcomes = await Promise.allSettled([delivered, moved]);
      assert.deepEqual(
        outcomes.map((o) => (o.status === 'rejected' ? String(o.reason) : o.status)),
        ['fulfilled', 'fulfilled'],
      );
    } finally {
      holder.release();
    }
    assert.deepEqual(await queueRow(x), { state: 'assigned', courier_id: chosen, notified: true });
    assert.deepEqual([await courierRow(chosen!), await courierRow(replaced!)], [{ status: 'busy', current_order_id: x }, { status: 'available', current_order_id: null }]);
    await dispatchInvariants(db.admin);
  });

  test('a courier staff chose while offline, or delivery never saw (no availability row), is offline again when their orders end; one who was available is available', async () => {
    const tenant = randomUUID();
    const unknown = randomUUID();
    const [offline, available] = await addCouriers('Guarda', 2);
    await db.admin.query(`update delivery.courier_availability set status = 'offline' where courier_id = $1`, [offline]);
    const [o1, o2, o3, o4] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const handle = orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Guarda') });
    for (const [orderId, courierId] of [[o1, unknown], [o2, offline], [o3, offline], [o4, available]] as const) {
      await handle(orderEvent('CourierAssigned', tenant, { orderId, courierId: courierId! }));
    }
    assert.deepEqual(await courierRow(unknown), { status: 'busy', current_order_id: o1 });
    for (const orderId of [o1, o2, o4]) await handle(orderEvent('OrderDelivered', tenant, { orderId }));
    const status = async (courierId: string) =>
      (await db.admin.query(`select city, status from delivery.courier_availability where courier_id = $1`, [courierId])).rows[0];
    assert.deepEqual(await status(unknown), { city: 'Guarda', status: 'offline' });
    assert.deepEqual(await courierRow(offline!), { status: 'busy', current_order_id: o3 }, 'still carrying their second order');
    assert.deepEqual(await status(available!), { city: 'Guarda', status: 'available' });
    await handle(orderEvent('OrderCancelled', tenant, { orderId: o3 }));
    assert.deepEqual(await status(offline!), { city: 'Guarda', status: 'offline' });
    await dispatchInvariants(db.admin);
    // Once they say they are available, a dispatch assignment ends with them available, as for anyone.
    await db.admin.query(`update delivery.courier_availability set status = 'available', available_since = now() - interval '1 hour' where courier_id = $1`, [unknown]);
    const [order] = await addOrders('Guarda', [tenant], 1);
    const port = recordingOrders();
    assert.deepEqual(await dispatchOnce({ unitOfWork: uow, orders: port.orders }), { outcome: 'assigned', orderId: order!.orderId, courierId: unknown });
    await handle(orderEvent('OrderDelivered', tenant, { orderId: order!.orderId }));
    assert.deepEqual(await status(unknown), { city: 'Guarda', status: 'available' });
  });

  test('staff assign a courier to an order the dispatch dead-lettered: the order holds them', async () => {
    const tenant = randomUUID();
    const [order] = await addOrders('Beja', [tenant], 1);
    const port = recordingOrders();
    assert.deepEqual(await dispatchOnce({ unitOfWork: uow, orders: port.orders }, { maxAttempts: 1 }), { outcome: 'dead', orderId: order!.orderId });
    const [courier] = await addCouriers('Beja', 1);
    await orderEventsHandler({ unitOfWork: uow, restaurants: cityOf('Beja') })(orderEvent('CourierAssigned', tenant, { orderId: order!.orderId, courierId: courier! }));
    assert.deepEqual(await queueRow(order!.orderId), { state: 'assigned', courier_id: courier, notified: true });
    assert.deepEqual(await courierRow(courier!), { status: 'busy', current_order_id: order!.orderId });
    await dispatchInvariants(db.admin);
  });
});
