import type { Tx } from '../../../platform/db/index.ts';
import { announceDispatch } from './dispatchWork.ts';

/**
 * Serialises "a courier became free in this city" with "no courier in this city, back off" for the
 * rest of the transaction (an advisory lock per city). Without it a courier freed between a worker's
 * courier pick and its backoff commit would wait out the whole backoff: see {@link wakeOneInCity}.
 */
export async function lockCity(tx: Tx, city: string): Promise<void> {
  await tx.query(`select pg_advisory_xact_lock(hashtext('brigade.delivery.city'), hashtext($1))`, [city]);
}

/**
 * A courier just became available in `city`: the order of that city that has waited longest and is
 * backing off is made due now, so the courier does not idle until its backoff ends. Takes the city
 * lock first ({@link lockCity}); rows a worker holds are skipped (that worker will either assign them
 * or, under the same lock, see this courier and retry at once). One order per freed courier, so a
 * release costs one row, not the city's whole queue. An idle dispatch worker of this process is woken
 * after commit.
 *
 * clock_timestamp(), not now(): now() is the transaction's start, so a waker that began before the
 * previous one committed took that one's order for still backing off and woke it a second time (the
 * 200-order test lost 12 of 50 wake-ups per round that way).
 */
export async function wakeOneInCity(tx: Tx, city: string): Promise<number> {
  await lockCity(tx, city);
  const { rowCount } = await tx.query(
    `update delivery.dispatch_queue q set next_attempt_at = clock_timestamp()
      where (q.tenant_id, q.order_id) = (
        select tenant_id, order_id from delivery.dispatch_queue
         where city = $1 and state = 'queued' and next_attempt_at > clock_timestamp()
         order by ready_at limit 1 for update skip locked)`,
    [city],
  );
  if ((rowCount ?? 0) > 0) announceDispatch(tx);
  return rowCount ?? 0;
}
