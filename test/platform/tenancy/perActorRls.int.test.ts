import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { commitStatements, unitOfWork, type Actor, type Tx, type UnitOfWorkContext } from '../../../src/platform/db/index.ts';
import { createEventStore } from '../../../src/platform/events/index.ts';
import { showSaga } from '../../../src/platform/sagas/index.ts';
import { createOrderStore } from '../../../src/services/ordering/orderStore.ts';
import { useTestDatabase } from '../../support/db.ts';
import { planNodes, type PlanNode } from '../../support/plans.ts';

/**
 * Within a restaurant (the tenant), a customer's and a courier's transactions see only the rows of
 * their own orders, at the database: the order events, the payment saga's instance, log and deadlines,
 * and delivery's dispatch job, assignments and alerts (docs/decisions/0006, "Within a tenant, per
 * actor"). Staff see their whole restaurant, system actors (projectors, relays, sagas) everything,
 * as before. Every query here is a bare SELECT with no WHERE on the actor: only the policies filter.
 */
describe('per-actor Row-Level Security within a tenant: events, payment saga, delivery', () => {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let owner: pg.Pool;
  const store = createEventStore({ schema: 'ordering' });
  const R = randomUUID(); // the restaurant
  const R2 = randomUUID(); // another restaurant
  const A = randomUUID(); // customer A
  const B = randomUUID(); // customer B
  const K1 = randomUUID(); // courier K1
  const K2 = randomUUID(); // courier K2
  // oA: A's order at R, courier K1. oB: B's order at R, first given to K1, then to K2. oX: A's order at R2, courier K1.
  const oA = randomUUID();
  const oB = randomUUID();
  const oX = randomUUID();
  const orders = [
    { id: oA, tenant: R, customer: A, courier: K1 },
    { id: oB, tenant: R, customer: B, courier: K2 },
    { id: oX, tenant: R2, customer: A, courier: K1 },
  ];
  const sorted = (ids: string[]) => [...ids].sort();

  const customer = (id: string): Actor => ({ kind: 'customer', id });
  const courier = (id: string): Actor => ({ kind: 'courier', id });
  const staff: Actor = { kind: 'staff', id: randomUUID() };
  const system: Actor = { kind: 'system', id: 'projector-test' };
  const as = <T>(service: string, actor: Actor, tenantId: string | null, fn: (tx: Tx) => Promise<T>) =>
    unitOfWork(pool, { service, tenantId, actor, readOnly: true }, fn);
  const column = async (service: string, actor: Actor, tenantId: string | null, sql: string) =>
    sorted((await as(service, actor, tenantId, (tx) => tx.query<{ v: string }>(sql))).rows.map((r) => r.v));

  const eventsSeen = (actor: Actor, tenantId: string | null = R) => column('ordering', actor, tenantId, `select distinct substr(stream_id, 7) as v from ordering.events`);
  const sagasSeen = (actor: Actor, tenantId: string | null = R) => column('payments', actor, tenantId, `select id::text as v from payments.saga_instances`);
  const sagaLogSeen = (actor: Actor, tenantId: string | null = R) => column('payments', actor, tenantId, `select distinct saga_id::text as v from payments.saga_log`);
  const deadlinesSeen = (actor: Actor, tenantId: string | null = R) => column('payments', actor, tenantId, `select distinct saga_id::text as v from payments.saga_deadlines`);
  const jobsSeen = (actor: Actor, tenantId: string | null = R) => column('delivery', actor, tenantId, `select order_id::text as v from delivery.dispatch_queue`);
  const assignmentsSeen = (actor: Actor, tenantId: string | null = R) =>
    column('delivery', actor, tenantId, `select order_id::text || '/' || courier_id::text as v from delivery.assignments`);
  const alertsSeen = (actor: Actor, tenantId: string | null = R) => column('delivery', actor, tenantId, `select order_id::text as v from delivery.dispatch_alerts`);

  before(async () => {
    pool = database.pool(4);
    owner = database.pool(1); // the migrating role: a superuser, not subject to RLS
    for (const o of orders) {
      await owner.query(`insert into ordering.order_index (tenant_id, order_id, customer_id, courier_id) values ($1, $2, $3, $4)`, [o.tenant, o.id, o.customer, o.courier]);
      await owner.query(
        `insert into ordering.events (tenant_id, stream_id, stream_version, message_id, type, data, metadata)
         values ($1, $2, 1, gen_random_uuid(), 'OrderPlaced', '{}', '{}'), ($1, $2, 2, gen_random_uuid(), 'CourierAssigned', '{}', '{}')`,
        [o.tenant, `order-${o.id}`],
      );
      const state = { orderId: o.id, restaurantId: o.tenant, customerId: o.customer, courierId: o.courier, total: 1000, currency: 'EUR' };
      await owner.query(`insert into payments.saga_instances (tenant_id, id, name, state, status) values ($1, $2, 'payment', $3, 'running')`, [o.tenant, o.id, state]);
      await owner.query(
        `insert into payments.saga_log (tenant_id, saga_id, version, kind, item, status) values ($1, $2, 1, 'started', 'payment', 'running'), ($1, $2, 2, 'event', 'CourierAssigned', 'running')`,
        [o.tenant, o.id],
      );
      await owner.query(`insert into payments.saga_deadlines (tenant_id, saga_id, name, due_at) values ($1, $2, 'accept', now() + interval '1 hour')`, [o.tenant, o.id]);
      await owner.query(
        `insert into delivery.dispatch_queue (tenant_id, order_id, city, state, courier_id, assigned_at) values ($1, $2, 'Lisbon', 'assigned', $3, now())`,
        [o.tenant, o.id, o.courier],
      );
      await owner.query(`insert into delivery.assignments (tenant_id, order_id, courier_id) values ($1, $2, $3)`, [o.tenant, o.id, o.courier]);
      await owner.query(`insert into delivery.dispatch_alerts (tenant_id, order_id, city, attempts, reason) values ($1, $2, 'Lisbon', 3, 'no courier')`, [o.tenant, o.id]);
    }
    // oB went to K1 first: K1's released assignment stays in the history.
    await owner.query(`insert into delivery.assignments (tenant_id, order_id, courier_id, released_at, release_reason) values ($1, $2, $3, now(), 'reassigned')`, [R, oB, K1]);
  });

  test("a customer sees their own order's events, payment and nothing of delivery; not another customer's of the same restaurant", async () => {
    assert.deepEqual(await eventsSeen(customer(A)), [oA]);
    assert.deepEqual(await eventsSeen(customer(B)), [oB]);
    // What the order routes run: reading one stream.
    const read = (stream: string) => as('ordering', customer(A), R, (tx) => store.readStream(tx, `order-${stream}`));
    assert.equal((await read(oA)).version, 2);
    assert.deepEqual(await read(oB), { events: [], version: 0 }, "B's stream is invisible to A, as if it were empty");

    assert.deepEqual(await sagasSeen(customer(A)), [oA]);
    assert.deepEqual(await sagaLogSeen(customer(A)), [oA]);
    assert.deepEqual(await deadlinesSeen(customer(A)), [oA]);
    // What the payment route runs.
    const shown = (id: string) => as('payments', customer(A), R, (tx) => showSaga(tx, 'payments', id, { tenantId: R }));
    assert.equal((await shown(oA))?.log.length, 2);
    assert.equal(await shown(oB), null);

    // Delivery keeps no customer ids: a customer sees none of its rows.
    assert.deepEqual(await jobsSeen(customer(A)), []);
    assert.deepEqual(await assignmentsSeen(customer(A)), []);
    assert.deepEqual(await alertsSeen(customer(A)), []);
  });

  test('a courier sees the rows of the orders assigned to them now, and their own assignments', async () => {
    assert.deepEqual(await eventsSeen(courier(K1)), [oA], 'oB went to K2');
    assert.deepEqual(await eventsSeen(courier(K2)), [oB]);
    assert.deepEqual(await sagasSeen(courier(K1)), [oA]);
    assert.deepEqual(await sagaLogSeen(courier(K2)), [oB]);
    assert.deepEqual(await deadlinesSeen(courier(K2)), [oB]);
    assert.deepEqual(await jobsSeen(courier(K1)), [oA]);
    assert.deepEqual(await assignmentsSeen(courier(K1)), sorted([`${oA}/${K1}`, `${oB}/${K1}`]), "their own assignments, the released one too; not K2's");
    assert.deepEqual(await assignmentsSeen(courier(K2)), [`${oB}/${K2}`]);
    assert.deepEqual(await alertsSeen(courier(K1)), [oA]);
    assert.deepEqual(await alertsSeen(courier(K2)), [oB]);
    const read = (stream: string) => as('ordering', courier(K2), R, (tx) => store.readStream(tx, `order-${stream}`));
    assert.equal((await read(oB)).version, 2);
    assert.equal((await read(oA)).version, 0);
  });

  test('still within the tenant: customer A in R sees nothing of their order at R2; in R2 they see it', async () => {
    assert.deepEqual(await eventsSeen(customer(A), R2), [oX]);
    assert.deepEqual(await sagasSeen(customer(A), R2), [oX]);
    assert.deepEqual(await eventsSeen(courier(K1), R2), [oX]);
    assert.deepEqual(await eventsSeen(customer(A), null), [], 'no tenant, no rows');
  });

  test('staff see their whole restaurant; system actors every tenant, as before', async () => {
    const inR = sorted([oA, oB]);
    assert.deepEqual(await eventsSeen(staff), inR);
    assert.deepEqual(await sagasSeen(staff), inR);
    assert.deepEqual(await sagaLogSeen(staff), inR);
    assert.deepEqual(await deadlinesSeen(staff), inR);
    assert.deepEqual(await jobsSeen(staff), inR);
    assert.equal((await assignmentsSeen(staff)).length, 3);
    assert.deepEqual(await alertsSeen(staff), inR);
    const all = sorted([oA, oB, oX]);
    assert.deepEqual(await eventsSeen(system, null), all);
    assert.deepEqual(await sagasSeen(system, null), all);
    assert.deepEqual(await sagaLogSeen(system, null), all);
    assert.deepEqual(await jobsSeen(system, null), all);
    assert.deepEqual(await alertsSeen(system, null), all);
  });

  test('an actor id that is not a uuid sees nothing, without an error', async () => {
    for (const actor of [customer('not-a-uuid'), courier('not-a-uuid')]) {
      assert.deepEqual(await eventsSeen(actor), []);
      assert.deepEqual(await sagasSeen(actor), []);
      assert.deepEqual(await jobsSeen(actor), []);
    }
  });

  test("a customer's and a courier's own appends still go through, and what they write they read back in the same transaction", async () => {
    // Placing, as placeOrder does it: the order index row, then the first events, in one customer transaction.
    const placed = randomUUID();
    const stream = `order-${placed}`;
    const context: UnitOfWorkContext = { service: 'ordering', tenantId: R, actor: customer(A) };
    const inTx = await unitOfWork(pool, context, async (tx) => {
      await tx.query(`insert into ordering.order_index (tenant_id, order_id, customer_id) values ($1, $2, $3)`, [R, placed, A]);
      const appended = await store.append(tx, stream, [{ type: 'OrderPlaced', data: {} }], 0);
      return { appended, read: await store.readStream(tx, stream) };
    });
    assert.equal(inTx.appended.nextExpectedVersion, 1);
    assert.equal(inTx.read.version, 1);
    // A command as it runs in production: one round trip with the outbox rows (the append's INSERT … RETURNING).
    const orderStore = createOrderStore();
    const cancelled = await orderStore.appendAndCommit((ctx, statements) => commitStatements(pool, ctx, statements), context, stream, [{ type: 'OrderCancelled', data: {} }], 1);
    assert.equal(cancelled.nextExpectedVersion, 2);
    const delivered = await orderStore.appendAndCommit((ctx, statements) => commitStatements(pool, ctx, statements), { service: 'ordering', tenantId: R, actor: courier(K1) }, `order-${oA}`, [
      { type: 'OrderDelivered', data: {} },
    ], 2);
    assert.equal(delivered.nextExpectedVersion, 3);
    assert.deepEqual(await eventsSeen(customer(B)), [oB], 'B still sees only their own order');
  });

  /** Thrown to roll a write back once its outcome is known. */
  class RolledBack extends Error {
    constructor(readonly rows: number) {
      super('rolled back');
    }
  }
  /** The rows `sql` wrote as `actor` in R (as `service`), or the SQLSTATE it was refused with; rolled back either way, so the seeded rows stay. */
  const written = (actor: Actor, sql: string, values: unknown[] = [], service = 'payments') =>
    unitOfWork(pool, { service, tenantId: R, actor }, async (tx) => {
      throw new RolledBack((await tx.query(sql, values)).rowCount ?? 0);
    }).catch((error: unknown) => {
      if (error instanceof RolledBack) return error.rows;
      if (typeof (error as { code?: unknown }).code === 'string') return (error as { code: string }).code;
      throw error;
    });

  test("a customer's or a courier's transaction writes no row of the payment saga, not another's and not its own; the runtime, admins and staff still do", async () => {
    const state = (customerId: string) => JSON.stringify({ orderId: randomUUID(), restaurantId: R, customerId, courierId: null, total: 1000, currency: 'EUR' });
    for (const actor of [customer(A), courier(K1)]) {
      // The finding: A (or K1) does not see oB's saga, and a bare UPDATE (which reads no column, so the
      // SELECT policies are not applied to it) changed it anyway, with every other saga of the restaurant.
      assert.ok(!(await sagasSeen(actor)).includes(oB));
      assert.equal(await written(actor, `update payments.saga_instances set status = 'failed'`), 0, `${actor.kind}: no saga of the restaurant changes`);
      assert.equal(await written(actor, `update payments.saga_instances set status = 'failed' where id = $1`, [oA]), 0, `${actor.kind}: not even its own`);
      assert.equal(await written(actor, `update payments.saga_deadlines set cancelled_at = now()`), 0, `${actor.kind}: no deadline is cancelled`);
      // New rows are refused outright (WITH CHECK): a saga naming the actor, a log entry or a deadline of its own saga.
      assert.equal(await written(actor, `insert into payments.saga_instances (tenant_id, id, name, state, status) values ($1, $2, 'payment', $3, 'running')`, [R, randomUUID(), state(A)]), '42501');
      assert.equal(await written(actor, `insert into payments.saga_log (tenant_id, saga_id, version, kind, item, status) values ($1, $2, 3, 'event', 'X', 'running')`, [R, oA]), '42501');
      assert.equal(await written(actor, `insert into payments.saga_deadlines (tenant_id, saga_id, name, due_at) values ($1, $2, 'x', now())`, [R, oA]), '42501');
    }
    // The runtime (system: the consumer that starts sagas, the runner, the deadline scheduler), an admin
    // (brigade sagas resume/close) and staff write as before: the policies take nothing from them.
    for (const actor of [system, { kind: 'admin', id: 'ops' } as Actor, staff]) {
      assert.equal(await written(actor, `update payments.saga_instances set updated_at = now() where tenant_id = $1`, [R]), 2, actor.kind);
      assert.equal(await written(actor, `update payments.saga_deadlines set cancelled_at = now() where tenant_id = $1`, [R]), 2, actor.kind);
      assert.equal(await written(actor, `insert into payments.saga_instances (tenant_id, id, name, state, status) values ($1, $2, 'payment', $3, 'running')`, [R, randomUUID(), state(A)]), 1, actor.kind);
      assert.equal(await written(actor, `insert into payments.saga_log (tenant_id, saga_id, version, kind, item, status) values ($1, $2, 3, 'event', 'X', 'running')`, [R, oA]), 1, actor.kind);
      assert.equal(await written(actor, `insert into payments.saga_deadlines (tenant_id, saga_id, name, due_at) values ($1, $2, 'x', now())`, [R, oA]), 1, actor.kind);
    }
  });

  test("a customer's or a courier's transaction appends only to the streams of its own orders: a raw INSERT into another's is refused", async () => {
    // The finding (decision 0006, "Fixed later: customers and couriers append only to their own
    // orders"): the events' tenant policy (FOR ALL) admitted any actor's INSERT of the restaurant, and
    // the per-actor policy filtered reads only, so A appended to B's stream, which A cannot even read.
    const insert = `insert into ordering.events (tenant_id, stream_id, stream_version, message_id, type, data, metadata)
                    values ($1, $2, $3, gen_random_uuid(), 'OrderCancelled', '{}', '{}')`;
    const append = (actor: Actor, stream: string) => written(actor, insert, [R, stream, 1000], 'ordering'); // a version no test appends
    assert.equal(await append(customer(A), `order-${oB}`), '42501', "A into B's order");
    assert.equal(await append(courier(K1), `order-${oB}`), '42501', "K1 into oB, which went to K2");
    assert.equal(await append(customer(B), `order-${oA}`), '42501', "B into A's order");
    assert.equal(await append(customer(A), `order-${randomUUID()}`), '42501', 'an order that is in no order index');
    assert.equal(await append(customer(A), 'cart-1'), '42501', 'a stream that is no order');
    assert.equal(await append(customer('not-a-uuid'), `order-${oA}`), '42501', 'an actor id that is not a uuid, without a cast error');
    // A's own order at R2 (oX), from a transaction of R: the tenant policy refuses it, as before.
    assert.equal(await written(customer(A), insert, [R2, `order-${oX}`, 1000], 'ordering'), '42501', "R2's row from R's transaction (the tenant policy)");
    // Their own orders, as before; staff, admins and system actors anywhere in the restaurant.
    assert.equal(await append(customer(A), `order-${oA}`), 1, "A into A's own order");
    assert.equal(await append(courier(K2), `order-${oB}`), 1, 'K2 into the order assigned to them now');
    assert.equal(await append(courier(K1), `order-${oA}`), 1);
    for (const actor of [staff, system, { kind: 'admin', id: 'ops' } as Actor]) {
      assert.equal(await append(actor, `order-${oB}`), 1, actor.kind);
      assert.equal(await append(actor, 'cart-1'), 1, actor.kind);
    }
  });

  /** Every node of the plan of `sql` as `actor` runs it in R, executed (EXPLAIN ANALYZE: loops are counted). */
  const planAs = (actor: Actor, sql: string, values: unknown[]) =>
    as('ordering', actor, R, async (tx) => {
      const { rows } = await tx.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`explain (analyze, costs off, timing off, summary off, format json) ${sql}`, values);
      return planNodes(rows[0]!['QUERY PLAN'][0]!.Plan);
    });

  test("plans: a stream read probes the order index by the order's id, once per event, however many orders the actor has; never for staff or projectors", async () => {
    // History the probe must not read: 20,000 more orders at R (2,000 of them K1's, 1,000 A's), analysed.
    await owner.query(
      `insert into ordering.order_index (tenant_id, order_id, customer_id, courier_id)
       select $1, gen_random_uuid(), case when g % 20 = 0 then $2::uuid else gen_random_uuid() end, case when g % 10 = 0 then $3::uuid else gen_random_uuid() end
         from generate_series(1, 20000) g`,
      [R, A, K1],
    );
    await owner.query('analyze ordering.order_index');
    const streamRead = `select * from ordering.events where tenant_id = $1 and stream_id = $2 order by stream_version`;
    const events = (await as('ordering', staff, R, (tx) => store.readStream(tx, `order-${oA}`))).version;
    const probes = (plan: PlanNode[]) => plan.filter((n) => n['Relation Name'] === 'order_index').map((n) => [n['Node Type'], n['Index Name'], n['Actual Loops']]);
    for (const actor of [customer(A), courier(K1)]) {
      const plan = await planAs(actor, streamRead, [R, `order-${oA}`]);
      assert.deepEqual(plan.filter((n) => n['Relation Name'] === 'events').map((n) => [n['Node Type'], n['Index Name']]), [['Index Scan', 'events_pkey']], JSON.stringify(plan));
      const [probe, ...more] = probes(plan);
      assert.equal(more.length, 0, JSON.stringify(plan));
      assert.equal(probe![0], 'Index Scan', JSON.stringify(plan));
      assert.ok(['order_index_order', 'order_index_pkey'].includes(String(probe![1])), `by the order's id, not the actor's: ${JSON.stringify(plan)}`);
      assert.equal(probe![2], events, 'one probe per event of the stream');
    }
    // Staff and the projectors (system) pass on the actor kind: the order index is never read for them.
    for (const actor of [staff, system]) {
      assert.deepEqual(probes(await planAs(actor, streamRead, [R, `order-${oA}`])).map((p) => p[2]), [0], `${actor.kind}: never executed`);
    }
  });

  test("appends: a customer's or a courier's probes the order index by the order's id, once per event appended; staff's never", async () => {
    // A WITH CHECK's sub-plans are not in EXPLAIN: count the order index's scans instead. The appends run
    // on the owner's one connection (under the service role, as unitOfWork sets it), whose statistics
    // are flushed before each count.
    const scans = async () => {
      await owner.query('select pg_stat_force_next_flush()');
      await owner.query('select pg_stat_clear_snapshot()');
      const { rows } = await owner.query<{ name: string; n: string }>(
        `select indexrelname as name, idx_scan::text as n from pg_stat_user_indexes where relname = 'order_index'
         union all select 'seq scan', seq_scan::text from pg_stat_user_tables where relname = 'order_index'`,
      );
      return new Map(rows.map((r) => [r.name, Number(r.n)]));
    };
    /** The order index's scans (by index, and sequential) that `actor`'s append of two events to a new order's stream made. */
    const appendScans = async (actor: Actor, order: string) => {
      const before = await scans();
      await unitOfWork(owner, { service: 'ordering', tenantId: R, actor }, (tx) =>
        store.append(tx, `order-${order}`, [{ type: 'OrderPlaced', data: {} }, { type: 'OrderAccepted', data: {} }], 0),
      );
      const after = await scans();
      return Object.fromEntries([...after].map(([name, n]) => [name, n - (before.get(name) ?? 0)]).filter(([, n]) => n !== 0));
    };
    const indexed = async (customerId: string, courierId: string | null) => {
      const order = randomUUID();
      await owner.query(`insert into ordering.order_index (tenant_id, order_id, customer_id, courier_id) values ($1, $2, $3, $4)`, [R, order, customerId, courierId]);
      return order;
    };
    // New streams: the append's head read finds no event to probe for, so what is counted is the check:
    // one probe by the order's key per event, never a scan by the actor or of the whole table.
    const byOrder = (scans: Record<string, number>) => Object.keys(scans).length === 1 && (scans.order_index_pkey === 2 || scans.order_index_order === 2);
    for (const [actor, order] of [[customer(A), await indexed(A, null)], [courier(K1), await indexed(B, K1)]] as const) {
      const scans = await appendScans(actor, order);
      assert.ok(byOrder(scans), `${actor.kind}: ${JSON.stringify(scans)}`);
    }
    assert.deepEqual(await appendScans(staff, await indexed(B, null)), {}, 'staff: never read');
    assert.deepEqual(await appendScans(system, await indexed(B, null)), {}, 'system: never read');
  });
});
