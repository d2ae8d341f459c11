import type { Tx } from '../../../platform/db/index.ts';
import type { DispatchJob } from './claimAndAssign.ts';
import { raiseDispatchAlert } from './raiseDispatchAlert.ts';
import { lockCity } from './wakeCity.ts';

/** What {@link deferDispatch} decided. */
export type DeferOutcome = 'contended' | 'deferred' | 'dead';

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
 * attempt (`contended`). Otherwise the attempt counts: the order backs off (`deferred`), or after
 * `maxAttempts` it is dead-lettered (`dead`): state `dead`, an alert row, and
 * `delivery.dispatch.DispatchFailed` in the outbox, all committing together.
 */
export async function deferDispatch(tx: Tx, job: DispatchJob, options: DeferOptions): Promise<DeferOutcome> {
  await lockCity(tx, job.city);
  // A courier staff hold (holdCourier) is not free: counting them would retry every 25 ms for the whole hold.
  const free = await tx.query(`select 1 from delivery.courier_availability where city = $1 and status = 'available' and (held_until is null or held_until <= now()) limit 1`, [job.city]);
  if ((free.rowCount ?? 0) > 0) {
    await tx.query(
      `update delivery.dispatch_queue set next_attempt_at = now() + make_interval(secs => $3::double precision / 1000)
        where tenant_id = $1 and order_id = $2`,
      [job.tenantId, job.orderId, options.contendedDelayMs],
    );
    return 'contended';
  }
  const attempts = job.attempts + 1;
  if (attempts < options.maxAttempts) {
    await tx.query(
      `update delivery.dispatch_queue
          set attempts = $3, next_attempt_at = now() + make_interval(secs => $4::double precision / 1000), last_error = 'no courier available'
        where tenant_id = $1 and order_id = $2`,
      [job.tenantId, job.orderId, attempts, options.delayMs(attempts)],
    );
    return 'deferred';
  }
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
