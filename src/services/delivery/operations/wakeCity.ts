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
 * How many times a dead-lettered order is dispatched again when a courier of its city becomes available
 * (decision 0041, "Later"): once. The revived order gets a whole second round of attempts; if it dies
 * again it stays dead, for staff to assign or cancel, as before the redrive.
 */
export const MAX_REVIVALS = 1;

/**
 * Only orders dead-lettered this recently are revived, in ms (one hour): an order dead for longer has
 * been left to staff, and a courier should not be sent to it by surprise (nor to the dead rows that
 * were already there when the redrive was deployed).
 */
export const REVIVE_WITHIN_MS = 60 * 60 * 1000;

/**
 * A courier just became available in `city`: the order of that city that has waited longest (by
 * `ready_at`) and is either backing off or dead-lettered for want of a courier is made due now, so the
 * courier does not idle until its backoff ends and a dead order does not wait for staff. A dead order is
 * revived (decision 0041, "Later"): back to `queued` with its attempts at 0 and `revivals` counted, at
 * most {@link MAX_REVIVALS} times and only within {@link REVIVE_WITHIN_MS} of its death; a dead order
 * that had a courier (its notice to ordering was given up) is not, a courier is not what it lacked.
 * The dispatch's claim then assigns it like any other queued order (SKIP LOCKED, the courier's row,
 * ordering's `assignCourier`, whose CourierAssigned clears the alert on the board).
 *
 * Takes the city lock first ({@link lockCity}); rows another transaction holds are skipped (a worker
 * will either assign them or, under the same lock, see this courier and retry at once; a staff
 * reservation or a cancel will take the order out of `dead`/`queued`, and the claim never picks an
 * order that is not `queued`). One order per freed courier, so a release costs one row, not the city's
 * whole queue, and two couriers freed at once (serialised by the city lock) wake two orders. An idle
 * dispatch worker of this process is woken after commit. Returns the number of orders made due (0 or 1).
 *
 * clock_timestamp(), not now(): now() is the transaction's start, so a waker that began before the
 * previous one committed took that one's order for still backing off and woke it a second time (the
 * 200-order test lost 12 of 50 wake-ups per round that way).
 */
export async function wakeOneInCity(tx: Tx, city: string): Promise<number> {
  await lockCity(tx, city);
  // The oldest candidate of each kind, each by its partial index (queued: dispatch_queue_city_waiting;
  // dead: dispatch_queue_city_dead), then the older of the two. Both are locked (SKIP LOCKED) until this
  // transaction ends, though only one changes: an OR of the two in one scan could not use either index.
  const { rowCount } = await tx.query(
    `with waiting as (
       select tenant_id, order_id, ready_at from delivery.dispatch_queue
        where city = $1 and state = 'queued' and next_attempt_at > clock_timestamp()
        order by ready_at limit 1 for update skip locked
     ), dead as (
       select tenant_id, order_id, ready_at from delivery.dispatch_queue
        where city = $1 and state = 'dead' and courier_id is null and revivals < $2
          and finished_at > clock_timestamp() - make_interval(secs => $3::double precision / 1000)
        order by ready_at limit 1 for update skip locked
     ), oldest as (
       select tenant_id, order_id from (select * from waiting union all select * from dead) c order by ready_at limit 1
     )
     update delivery.dispatch_queue q
        set next_attempt_at = clock_timestamp(), state = 'queued',
            attempts = case when q.state = 'dead' then 0 else q.attempts end,
            revivals = q.revivals + case when q.state = 'dead' then 1 else 0 end,
            finished_at = case when q.state = 'dead' then null else q.finished_at end,
            last_error = case when q.state = 'dead' then null else q.last_error end
       from oldest where q.tenant_id = oldest.tenant_id and q.order_id = oldest.order_id`,
    [city, MAX_REVIVALS, REVIVE_WITHIN_MS],
  );
  if ((rowCount ?? 0) > 0) announceDispatch(tx);
  return rowCount ?? 0;
}
