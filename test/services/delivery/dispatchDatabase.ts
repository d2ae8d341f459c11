import { before, beforeEach } from 'node:test';
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
