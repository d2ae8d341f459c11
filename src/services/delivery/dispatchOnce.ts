import type { Actor } from '../../platform/db/index.ts';
import { BrigadeError } from '../../platform/errors/index.ts';
import { backoffDelay, type BackoffOptions } from '../../platform/messaging/index.ts';
import type { UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { claimAndAssign } from './operations/claimAndAssign.ts';
import { deferDispatch } from './operations/deferDispatch.ts';
import { finishOrder } from './operations/finishOrder.ts';
import { giveUpNotification } from './operations/giveUpNotification.ts';
import { claimPendingNotification, markNotified, postponeNotification, type PendingNotification } from './operations/notifications.ts';
import { undoReservation } from './operations/undoReservation.ts';
import type { CommandCause, OrderCommands } from './ports.ts';

/** Tuning of the dispatch workers. */
export interface DispatchOptions {
  /** Attempts without a courier before the order is dead-lettered (alert + DispatchFailed). Default 8. */
  readonly maxAttempts?: number;
  /** Backoff between attempts without a courier (exponential, equal jitter). Default 2 s doubling to 60 s. */
  readonly backoff?: BackoffOptions;
  /** Retry delay when couriers are free but all were being taken by competing workers, in ms. Default 25. */
  readonly contendedDelayMs?: number;
  /** How long an assignment may wait for its ordering notification before another worker retries it, in ms. Default 30 000. */
  readonly notifyLeaseMs?: number;
  /** Backoff of failed ordering notifications. Default 1 s doubling to 60 s. */
  readonly notifyBackoff?: BackoffOptions;
  /**
   * Failed notices to ordering of one assignment before staff are alerted (an alert, as for an order
   * that finds no courier, asking them to assign a courier or cancel). The courier stays busy with the
   * order and the notices go on with `notifyBackoff` (at most a minute apart by default) until ordering
   * answers, staff act, or the order ends. Default 8: one to two minutes of retries with the default
   * `notifyBackoff`.
   */
  readonly maxNotifyAttempts?: number;
  /** Sleep of an idle worker before it looks again, in ms. Default 500. */
  readonly idleMs?: number;
  /** Random source for the jitter (tests). Default Math.random. */
  readonly random?: () => number;
}

/** What one {@link dispatchOnce} step did. */
export type DispatchStep =
  | { readonly outcome: 'idle' }
  | { readonly outcome: 'assigned' | 'notify-failed' | 'dropped' | 'unconfirmed'; readonly orderId: string; readonly courierId: string }
  | { readonly outcome: 'contended' | 'held' | 'deferred' | 'dead'; readonly orderId: string };

/** What a dispatch step needs. */
export interface DispatchEnv {
  readonly unitOfWork: UnitOfWorkFn;
  readonly orders: OrderCommands;
}

const SYSTEM: Actor = { kind: 'system', id: 'delivery-dispatch' };
const context = { service: 'delivery', actor: SYSTEM } as const;

/**
 * One step of a dispatch worker; competing workers run it concurrently.
 * 1. An assignment whose ordering notification is due (a worker died after its commit, or ordering
 *    failed) is retried first. A staff reservation not confirmed within its lease is settled instead
 *    by asking ordering which courier the order has (undone unless it is the reserved one).
 * 2. Else it claims the queued order that waited longest with the courier of its city who waited
 *    longest, marking both in one transaction ({@link claimAndAssign}); with no courier it backs off
 *    or dead-letters ({@link deferDispatch}), or, when the city's available couriers are only held by
 *    staff, waits for the earliest hold's end (`held`, no attempt spent).
 * 3. After that commit it tells ordering (`assignCourier`, idempotent), with the order event that
 *    queued the order as the command's cause. A failure between the commit
 *    and ordering's command leaves the row `assigned` with `notified_at` null and `next_attempt_at`
 *    at the lease's end, so step 1 of some worker retries it; ordering appends nothing when the same
 *    courier is assigned twice. A 404/422 (the order is gone or cancelled, or staff chose another
 *    courier) drops the assignment and frees the courier. After `maxNotifyAttempts` failed notices staff
 *    are alerted (`unconfirmed`) and the notices go on; the courier stays busy with the order (ordering
 *    may have recorded it, with only its answer lost).
 */
export async function dispatchOnce(env: DispatchEnv, options: DispatchOptions = {}): Promise<DispatchStep> {
  const notifyLeaseMs = options.notifyLeaseMs ?? 30_000;
  const pending = await env.unitOfWork(context, (tx) => claimPendingNotification(tx, notifyLeaseMs));
  if (pending !== null) return pending.reservation ? settleReservation(env, pending, options) : notify(env, pending, options);
  const claimed = await env.unitOfWork(context, async (tx) => {
    const result = await claimAndAssign(tx, { notifyLeaseMs });
    if (result.job === null) return { outcome: 'idle' } as const;
    if (result.courierId !== null) return { outcome: 'assigned', tenantId: result.job.tenantId, orderId: result.job.orderId, courierId: result.courierId, cause: result.job.cause } as const;
    const outcome = await deferDispatch(tx, result.job, {
      maxAttempts: options.maxAttempts ?? 8,
      delayMs: (attempts) => backoffDelay(attempts, { initialMs: 2000, maxMs: 60_000, ...options.backoff }, options.random),
      contendedDelayMs: options.contendedDelayMs ?? 25,
    });
    return { outcome, orderId: result.job.orderId } as const;
  });
  if (claimed.outcome !== 'assigned') return claimed;
  return notify(env, { tenantId: claimed.tenantId, orderId: claimed.orderId, courierId: claimed.courierId, attempts: 0, cause: claimed.cause }, options);
}

/**
 * Settles a staff reservation that ordering's CourierAssigned has not confirmed within its lease: asks
 * ordering (a read, never the command) which courier the order has. That courier: the reservation
 * stands (`assigned`; the event only confirms it). Another courier or none: staff's command was refused
 * after the reservation committed, so it is undone ({@link undoReservation}: the courier freed, the
 * order back as it was; `dropped`). A failed read is retried with the notice backoff.
 */
async function settleReservation(env: DispatchEnv, reservation: PendingNotification, options: DispatchOptions): Promise<DispatchStep> {
  const { tenantId, orderId, courierId } = reservation;
  let recorded: { readonly courierId: string | null } | null;
  try {
    recorded = await env.orders.orderCourier({ restaurantId: tenantId, orderId });
  } catch (error) {
    const delayMs = backoffDelay(reservation.attempts + 1, { initialMs: 1000, maxMs: 60_000, ...options.notifyBackoff }, options.random);
    const message = error instanceof Error ? error.message : String(error);
    await env.unitOfWork(context, (tx) => postponeNotification(tx, { tenantId, orderId, courierId, delayMs, error: message }));
    return { outcome: 'notify-failed', orderId, courierId };
  }
  if (recorded?.courierId === courierId) {
    await env.unitOfWork(context, (tx) => markNotified(tx, { tenantId, orderId, courierId }));
    return { outcome: 'assigned', orderId, courierId };
  }
  const orderHasCourier = recorded !== null && recorded.courierId !== null;
  await env.unitOfWork(context, (tx) => undoReservation(tx, { tenantId, orderId, courierId, orderHasCourier }));
  return { outcome: 'dropped', orderId, courierId };
}

async function notify(
  env: DispatchEnv,
  assignment: { tenantId: string; orderId: string; courierId: string; attempts: number; cause: CommandCause },
  options: DispatchOptions,
): Promise<DispatchStep> {
  const { tenantId, orderId, courierId } = assignment;
  try {
    await env.orders.assignCourier({ restaurantId: tenantId, orderId, courierId }, assignment.cause);
  } catch (error) {
    if (error instanceof BrigadeError && (error.status === 404 || error.status === 422)) {
      await env.unitOfWork(context, (tx) => finishOrder(tx, { tenantId, orderId, reason: 'dropped', courierId }));
      return { outcome: 'dropped', orderId, courierId };
    }
    const message = error instanceof Error ? error.message : String(error);
    const delayMs = backoffDelay(assignment.attempts + 1, { initialMs: 1000, maxMs: 60_000, ...options.notifyBackoff }, options.random);
    const maxNotifyAttempts = options.maxNotifyAttempts ?? 8;
    // The count that decides the alert is the row's, added in SQL, not the claim's plus one: a notice
    // that hangs past its lease runs beside another worker's notice of the same row, both claimed with
    // the same count, and the count then jumped past the limit with no alert ever (found by review).
    // Each failure adds exactly one under the row's lock, so exactly one of them reaches the limit.
    const alerted = await env.unitOfWork(context, async (tx) => {
      const failed = await postponeNotification(tx, { tenantId, orderId, courierId, delayMs, error: message });
      // null: a CourierAssigned settled the order meanwhile (confirmed it, or staff chose).
      if (failed !== maxNotifyAttempts) return false;
      return giveUpNotification(tx, { tenantId, orderId, courierId, attempts: failed, error: message });
    });
    return { outcome: alerted ? 'unconfirmed' : 'notify-failed', orderId, courierId };
  }
  await env.unitOfWork(context, (tx) => markNotified(tx, { tenantId, orderId, courierId }));
  return { outcome: 'assigned', orderId, courierId };
}
