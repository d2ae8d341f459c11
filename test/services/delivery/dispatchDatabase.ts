import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { before, beforeEach } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import type { UnitOfWorkFn } from '../../../src/platform/tenancy/index.ts';
import { useTestDatabase } from '../../support/db.ts';

/** A migrated test database for the dispatch's own operations, as {@link useDispatchDatabase} gives it. */
export interface DispatchDatabase {
  /** A pool of 2 for the test's own statements (set up, read back), outside any unit of work. */
  readonly admin: pg.Pool;
  /** Units of work on a pool of `poolSize`, as the service runs them. */
  readonly uow: UnitOfWorkFn;
}

/**
 * A test database whose couriers, dispatch queue, assignments, alerts and outbox are emptied before
 * each test of the file (the dispatch picks among every courier of a city, so tests must not share them).
 */
export function useDispatchDatabase(poolSize: number): DispatchDatabase {
  const database = useTestDatabase();
  let pool: pg.Pool;
  let admin: pg.Pool;
  before(async () => {
    await database.ready;
    pool = database.pool(poolSize);
    admin = database.pool(2);
  });
  beforeEach(async () => {
    await admin.query('truncate delivery.courier_availability, delivery.dispatch_queue, delivery.assignments, delivery.dispatch_alerts, delivery.outbox');
  });
  return {
    get admin() {
      return admin;
    },
    uow: (context, fn) => unitOfWork(pool, context, fn),
  };
}

/** `count` available couriers of `city`, with staggered `available_since` (the longest wait is well defined); returns their ids. */
export async function addCouriers(admin: pg.Pool, city: string, count: number): Promise<string[]> {
  const ids = Array.from({ length: count }, () => randomUUID());
  await admin.query(
    `insert into delivery.courier_availability (courier_id, city, status, available_since)
     select id, $2, 'available', now() - make_interval(secs => 1000 - ord) from unnest($1::uuid[]) with ordinality as u(id, ord)`,
    [ids, city],
  );
  return ids;
}

/**
 * `count` queued orders of `city`, of `tenants` in turn, ready in the order given and due
 * `dueSecondsAgo` seconds ago (default 1): a queue that waited longer is claimed first.
 */
export async function addOrders(admin: pg.Pool, city: string, tenants: readonly string[], count: number, dueSecondsAgo = 1): Promise<Array<{ tenantId: string; orderId: string }>> {
  const orders = Array.from({ length: count }, (_, i) => ({ tenantId: tenants[i % tenants.length]!, orderId: randomUUID() }));
  await admin.query(
    `insert into delivery.dispatch_queue (tenant_id, order_id, city, ready_at, next_attempt_at)
     select t, o, $3, now() - make_interval(secs => 5000 - ord), now() - make_interval(secs => $4::double precision)
       from unnest($1::uuid[], $2::uuid[]) with ordinality as u(t, o, ord)`,
    [orders.map((o) => o.tenantId), orders.map((o) => o.orderId), city, dueSecondsAgo],
  );
  return orders;
}

/** No courier holds two orders, no order two couriers, and every busy courier's order is assigned to them. */
export async function dispatchInvariants(admin: pg.Pool): Promise<void> {
  const doubleOrders = await admin.query(`select order_id from delivery.assignments where released_at is null group by order_id having count(*) > 1`);
  assert.deepEqual(doubleOrders.rows, [], 'an order holds two couriers');
  const doubleCouriers = await admin.query(`select courier_id from delivery.dispatch_queue where state = 'assigned' group by courier_id having count(*) > 1`);
  assert.deepEqual(doubleCouriers.rows, [], 'a courier holds two active orders');
  const mismatch = await admin.query(
    `select q.order_id from delivery.dispatch_queue q
       left join delivery.courier_availability a on a.courier_id = q.courier_id and a.current_order_id = q.order_id and a.status = 'busy'
      where q.state = 'assigned' and a.courier_id is null`,
  );
  assert.deepEqual(mismatch.rows, [], 'an assigned order whose courier is not busy with it');
  const busy = await admin.query(
    `select a.courier_id from delivery.courier_availability a
       left join delivery.dispatch_queue q on q.order_id = a.current_order_id and q.courier_id = a.courier_id and q.state = 'assigned'
      where a.status = 'busy' and q.order_id is null`,
  );
  assert.deepEqual(busy.rows, [], 'a busy courier whose order is not assigned to them');
}

/**
 * Waits until `promise` has settled or `waiters` sessions of `admin`'s database wait for a lock (a
 * forced interleaving's next step); at most 30 s.
 */
export async function settledOrBlocked(admin: pg.Pool, promise: Promise<unknown>, waiters = 1): Promise<'settled' | 'blocked'> {
  let settled = false;
  promise.then(
    () => (settled = true),
    () => (settled = true),
  );
  for (let i = 0; i < 3000; i++) {
    if (settled) return 'settled';
    const waiting = await admin.query(`select 1 from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
    if ((waiting.rowCount ?? 0) >= waiters) return 'blocked';
    await sleep(10);
  }
  throw new Error('it neither ended nor waited for a lock');
}
