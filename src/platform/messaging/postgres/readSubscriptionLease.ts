import type pg from 'pg';
import { sleep } from '../../runtime/sleep.ts';
import { UnknownSubscriptionError } from '../errors.ts';
import { isLastingBusError } from '../isLastingBusError.ts';

/** What {@link readSubscriptionLease} takes besides the pool and the subscription. */
export interface ReadLeaseOptions {
  /** The worker's stop: no more attempts once it aborts. */
  readonly signal: AbortSignal;
  /** Told of each failed attempt (the worker's `onError`): the attempts go on. */
  readonly report: (error: unknown) => void;
  /** The wait after the first failed attempt; it doubles up to {@link ReadLeaseOptions.maxDelayMs}. */
  readonly firstDelayMs: number;
  readonly maxDelayMs: number;
}

/**
 * The lease of `subscription` (`brigade_bus.subscriptions.lease_ms`): the first thing a PostgreSQL
 * transport worker reads. While the database does not answer, each failure is reported and the read
 * tried again after a back-off, as the LISTEN connection is opened again: a worker started before its
 * database (compose, Kubernetes) waits for it, as a running one does when the database goes away.
 * Before, the first failure rejected the worker, and `brigade worker` shut down with exit 1.
 *
 * @returns the lease in ms, or null when `signal` aborted before the database answered.
 * @throws {UnknownSubscriptionError} the database has no such subscription.
 * @throws the database's own error when it answered with one that asking again does not change
 *   ({@link isLastingBusError}: its tables missing, a database never migrated, which the worker's caller says).
 * @example
 * const leaseMs = await readSubscriptionLease(pool, 'delivery-dispatch', { signal, report: onError, firstDelayMs: 50, maxDelayMs: 2000 });
 * if (leaseMs === null) return; // stopped while the database was down
 */
export async function readSubscriptionLease(pool: pg.Pool, subscription: string, options: ReadLeaseOptions): Promise<number | null> {
  for (let delay = options.firstDelayMs; !options.signal.aborted; delay = Math.min(delay * 2, options.maxDelayMs)) {
    let rows: Array<{ lease_ms: number }>;
    try {
      ({ rows } = await pool.query<{ lease_ms: number }>('select lease_ms from brigade_bus.subscriptions where name = $1', [subscription]));
    } catch (error) {
      if (isLastingBusError(error)) throw error;
      options.report(error);
      await sleep(delay, options.signal);
      continue;
    }
    if (rows[0] === undefined) throw new UnknownSubscriptionError(subscription);
    return rows[0].lease_ms;
  }
  return null;
}
