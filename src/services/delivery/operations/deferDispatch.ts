import type { Tx } from '../../../platform/db/index.ts';
import type { DispatchJob } from './claimAndAssign.ts';
import { HELD } from './freeForDispatch.ts';
import { raiseDispatchAlert } from './raiseDispatchAlert.ts';
import { lockCity } from './wakeCity.ts';

/** What {@link deferDispatch} decided. */
export type DeferOutcome = 'contended' | 'held' | 'deferred' | 'dead';

/** Options of {@link deferDispatch}. */
export interface DeferOptions {
  /** Attempts without a courier before the order is dead-lettered. */
  readonly maxAttempts: number;
  /** The delay before attempt `n + 1` after `n` attempts without a courier (backoff with jitter), in ms. */
  readonly delayMs: (attempts: number) => number;
  /** The delay before retrying when couriers are free but all were being taken by other workers, in ms. */
  readonly contendedDelayMs: number;
}

/**
 * Handles a claimed order that got no courier, in the claiming transaction (its row is locked).
 * Under the city lock it first re-checks: if a courier is available now (freed since the claim's
 * snapshot, or locked by a competing worker), the order comes back shortly without spending an
 * attempt (`contended`). If the city's only available couriers are held by staff (`holdCourier`) and
 * a hold is due to be settled before the order's backoff would end (or this was its last attempt),
 * the order is due when the earliest of those holds is (`held_until`: the dispatch's sweep then asks
 * ordering and ends or extends it), again without spending an attempt (`held`): the retry it brings
 * is the hold's, not the backoff's. Otherwise the attempt
 * counts: the order backs off (`deferred`), or after `maxAttempts` it is dead-lettered (`dead`): state
 * `dead`, an alert row, and `delivery.dispatch.DispatchFailed` in the outbox, all committing together.
 */
export async function deferDispatch(tx: Tx, job: DispatchJob, options: DeferOptions): Promise<DeferOutcome> {
  await lockCity(tx, job.city);
  // A courier staff hold (holdCourier) is not free: counting them would retry every 25 ms for the whole hold.
  const free = await tx.query(`select 1 from delivery.courier_availability where city = $1 and status = 'available' and not ${HELD} limit 1`, [job.city]);
  if ((free.rowCount ?? 0) > 0) {
    await tx.query(
      `update delivery.dispatch_queue set next_attempt_at = now() + make_interval(secs => $3::double precision / 1000)
        where tenant_id = $1 and order_id = $2`,
      [job.tenantId, job.orderId, options.contendedDelayMs],
    );
    return 'contended';
  }
  const attempts = job.attempts + 1;
  const delayMs = attempts < options.maxAttempts ? options.delayMs(attempts) : null;
  // The order must be due by a hold's end by itself (0041, "a hold's end"): `wait` when an available
  // courier's hold is due to be settled (`held_until`, when the dispatch's sweep asks ordering about
  // it) before the backoff would end (or this is the last attempt). A hold whose settling is overdue
  // (the sweep has not reached it yet) makes the order due after `contendedDelayMs`, not at once. Not
  // counted: at the hold's end the courier is free, or was taken (the reassignment confirmed), or
  // still held (ordering has them on the held order, its event late: the retry waits for the next
  // settling), and a retry that finds no hold decides and counts "no courier". Only available couriers:
  // a held offline or busy one is no more usable when the hold ends. No courier is free here, so the
  // city's available rows are all held ones (a short range of courier_availability_pick). One
  // statement with the backoff's update, so a defer costs no more round trips than before (`coalesce`:
  // on the last attempt, $4 null, any hold is waited for); no row updated: the last attempt with no
  // hold, dead-lettered below.
  const { rows } = await tx.query<{ wait: boolean }>(
    `update delivery.dispatch_queue q
        set attempts = case when h.wait then q.attempts else $3 end,
            next_attempt_at = case when h.wait then greatest(h.ends, now() + make_interval(secs => $6::double precision / 1000))
                                   else now() + make_interval(secs => $4::double precision / 1000) end,
            last_error = case when h.wait then q.last_error else 'no courier available' end
       from (select ends, coalesce(ends < now() + make_interval(secs => $4::double precision / 1000), ends is not null) as wait
               from (select min(held_until) as ends from delivery.courier_availability
                      where city = $5 and status = 'available' and ${HELD}) m) h
      where q.tenant_id = $1 and q.order_id = $2 and (h.wait or $4::double precision is not null)
      returning h.wait`,
    [job.tenantId, job.orderId, attempts, delayMs, job.city, options.contendedDelayMs],
  );
  if (rows[0] !== undefined) return rows[0].wait ? 'held' : 'deferred';
  // Restaurant staff read the reason (the alert, DispatchFailed on the board): what happened and what
  // to do about it, as giveUpNotification's reason says.
  const reason = `no courier available in ${job.city} after ${attempts} attempts: assign a courier to the order or cancel it`;
  await tx.query(
    `update delivery.dispatch_queue set state = 'dead', attempts = $3, finished_at = now(), last_error = $4 where tenant_id = $1 and order_id = $2`,
    [job.tenantId, job.orderId, attempts, reason],
  );
  await raiseDispatchAlert(tx, { tenantId: job.tenantId, orderId: job.orderId, city: job.city, attempts, reason, cause: job.cause });
  return 'dead';
}
