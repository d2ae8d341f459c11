import type pg from 'pg';
import { newMessageId } from '../newMessageId.ts';
import { LeaseLostError } from '../errors.ts';

/** Identifies one attempt: the delivery and the lease token its claim returned. */
export interface DeliveryLease {
  readonly deliveryId: string;
  readonly lease: string;
}

/** Acks an attempt: the delivery is done. Throws {@link LeaseLostError} when the lease is no longer its own. */
export async function ackDelivery(pool: pg.Pool, attempt: DeliveryLease): Promise<void> {
  const { rowCount } = await pool.query('delete from brigade_bus.deliveries where id = $1 and lease = $2', [attempt.deliveryId, attempt.lease]);
  if (rowCount !== 1) throw new LeaseLostError(attempt.deliveryId);
}

/** Schedules a retry `delayMs` from now, keeping the error. Throws {@link LeaseLostError} like {@link ackDelivery}. */
export async function retryDelivery(pool: pg.Pool, attempt: DeliveryLease, delayMs: number, error: string): Promise<void> {
  const { rowCount } = await pool.query(
    `update brigade_bus.deliveries
     set run_at = now() + make_interval(secs => $3::double precision / 1000), lease = null, last_error = $4,
         first_failed_at = coalesce(first_failed_at, now())
     where id = $1 and lease = $2`,
    [attempt.deliveryId, attempt.lease, delayMs, error],
  );
  if (rowCount !== 1) throw new LeaseLostError(attempt.deliveryId);
}

/**
 * Gives a claimed but never started delivery back (a worker stopping with prefetched messages): due
 * now, and the attempt it never made is not counted.
 */
export async function releaseDelivery(pool: pg.Pool, attempt: DeliveryLease): Promise<void> {
  await pool.query('update brigade_bus.deliveries set run_at = now(), lease = null, attempt = attempt - 1 where id = $1 and lease = $2', [
    attempt.deliveryId,
    attempt.lease,
  ]);
}

/** Extends the lease of a running attempt; `false` when it was lost already. */
export async function extendLease(pool: pg.Pool, attempt: DeliveryLease, leaseMs: number): Promise<boolean> {
  const { rowCount } = await pool.query(
    'update brigade_bus.deliveries set run_at = now() + make_interval(secs => $3::double precision / 1000) where id = $1 and lease = $2',
    [attempt.deliveryId, attempt.lease, leaseMs],
  );
  return rowCount === 1;
}

// Moving the delivery to the dead letters is one statement: the DELETE checks the lease, and the
// INSERT only sees what the DELETE removed, so a message is parked at most once and never lost.
const DEAD_LETTER_SQL = `
with gone as (
  delete from brigade_bus.deliveries where id = $1 and lease = $2
  returning subscription, message_id, attempt, coalesce(first_failed_at, now()) as first_failed_at
)
insert into brigade_bus.dead_letters
  (id, subscription, message_id, subject, key, headers, payload, error, attempts, first_failed_at, last_failed_at, transport)
select $3, g.subscription, g.message_id, m.subject, m.key, m.headers, m.payload, $4, g.attempt, g.first_failed_at, now(), 'postgres'
from gone g join brigade_bus.messages m on m.id = g.message_id
returning id`;

/** Parks an attempt's message in the dead letters with its error. Throws {@link LeaseLostError} like {@link ackDelivery}. */
export async function deadLetterDelivery(pool: pg.Pool, attempt: DeliveryLease, error: string): Promise<string> {
  const id = newMessageId();
  const { rowCount } = await pool.query(DEAD_LETTER_SQL, [attempt.deliveryId, attempt.lease, id, error]);
  if (rowCount !== 1) throw new LeaseLostError(attempt.deliveryId);
  return id;
}
