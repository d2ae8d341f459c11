import type { Actor, Tx } from '../../platform/db/index.ts';
import { BrigadeError } from '../../platform/errors/index.ts';
import { backoffDelay, type BackoffOptions } from '../../platform/messaging/index.ts';
import { withDeadline } from '../../platform/runtime/index.ts';
import type { UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { claimAndAssign } from './operations/claimAndAssign.ts';
import { claimDueHold, type DueHold } from './operations/claimDueHold.ts';
import { clearCourierHold } from './operations/clearCourierHold.ts';
import { deferDispatch } from './operations/deferDispatch.ts';
import { deferRestaurantQueue } from './operations/deferRestaurantQueue.ts';
import { finishOrder } from './operations/finishOrder.ts';
import { giveUpNotification } from './operations/giveUpNotification.ts';
import { claimPendingNotification, markNotified, postponeNotification, type PendingNotification } from './operations/notifications.ts';
import { claimMissedPickup, endPickupDeadline, type MissedPickup } from './operations/pickupDeadlines.ts';
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
  /**
   * How long an assignment may wait for its ordering notification before another worker retries it, in
   * ms; also how long a staff hold of a courier stands after the sweep found ordering had that courier
   * on the held order (or could not ask) before it asks again. Default 30 000.
   */
  readonly notifyLeaseMs?: number;
  /** Backoff of failed ordering notifications. Default 1 s doubling to 60 s. */
  readonly notifyBackoff?: BackoffOptions;
  /**
   * How long one call to ordering from a dispatch step may take before the step stops waiting and
   * counts it as failed (a failed notice, retried with `notifyBackoff`), in ms; never more than half
   * `notifyLeaseMs`, so that a call that hangs ends, and its failure is recorded, while the step still
   * holds its claim (no second worker runs the same notice beside it). The call itself is abandoned,
   * not cancelled: ordering's commands are idempotent, so a late success only confirms what the retry
   * would. Default 10 000 (ordering's own wait for a connection, `DATABASE_ACQUIRE_TIMEOUT_MS`, is 5 s).
   */
  readonly orderCallTimeoutMs?: number;
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
  /**
   * A staff hold of `courierId` for `orderId` whose lease had ended, settled with ordering: it stands
   * another lease (`hold-kept`: ordering has the courier on the order, its CourierAssigned is late),
   * or it ended (`hold-ended`). A failed question is `notify-failed` (the hold stands, asked again
   * after a lease).
   */
  | { readonly outcome: 'hold-kept' | 'hold-ended'; readonly orderId: string; readonly courierId: string }
  /**
   * A pick-up deadline that had passed, fired: ordering took the courier off the order
   * (`pickup-missed`; its CourierUnassigned queues the order again and takes the courier off dispatch)
   * or the assignment was over (`pickup-settled`: picked up, reassigned, the order ended). A failed
   * command is `notify-failed` (the deadline fires again after a lease).
   */
  | { readonly outcome: 'pickup-missed' | 'pickup-settled'; readonly orderId: string; readonly courierId: string }
  /**
   * A pick-up deadline that had passed while `courierId` was not free for the order for a whole window
   * (busy with another order staff gave them before it, or moved on to it from that order less than a
   * window ago): moved on, not fired ({@link claimMissedPickup}).
   */
  | { readonly outcome: 'pickup-waits'; readonly orderId: string; readonly courierId: string }
  | { readonly outcome: 'contended' | 'held' | 'deferred' | 'dead'; readonly orderId: string };

/** What a dispatch step needs. */
export interface DispatchEnv {
  readonly unitOfWork: UnitOfWorkFn;
  readonly orders: OrderCommands;
}

const SYSTEM: Actor = { kind: 'system', id: 'delivery-dispatch' };
const context = { service: 'delivery', actor: SYSTEM } as const;

/**
 * One step of a dispatch worker; competing workers run it concurrently. A step does one of two kinds
 * of work, and `turn` (the worker's step number, counted by `runDispatchLoop`) says which comes first:
 * due work on even turns, a new order's claim on odd ones; the other is done only when the first
 * finds nothing. So a claim gets every other step of each worker however much due work there is (one
 * restaurant whose ordering calls hang made every step a failing notice, and no other order of any
 * city was claimed; found by review), and due work gets every other step however long the queue is.
 *
 * Due work (one kind per step; `turn` also rotates which kind is looked for first, so that none of
 * them starves the others):
 * - An assignment whose ordering notification is due (a worker died after its commit, or ordering
 *   failed) is retried. A staff reservation not confirmed within its lease is settled instead by
 *   asking ordering which courier the order has (undone unless it is the reserved one).
 * - A staff hold of a courier whose lease has ended is settled the same way (ended unless ordering has
 *   that courier on the held order: then it stands until its CourierAssigned arrives).
 * - A pick-up deadline that has passed is fired ({@link firePickupDeadline}), or moved on while its
 *   courier is not yet free for the order (`pickup-waits`).
 *
 * A claim takes the queued order that has been due longest with the courier of its city who waited
 * longest, marking both in one transaction ({@link claimAndAssign}); with no courier it backs off or
 * dead-letters ({@link deferDispatch}), or, when the city's available couriers are only held by staff,
 * waits for the earliest hold's end (`held`, no attempt spent). After that commit it tells ordering
 * (`assignCourier`, idempotent), with the order event that queued the order as the command's cause.
 * A failure between the commit and ordering's command leaves the row `assigned` with `notified_at`
 * null and `next_attempt_at` at the lease's end, so due work of some worker retries it; ordering
 * appends nothing when the same courier is assigned twice. A 404/422 (the order is gone or cancelled,
 * or staff chose another courier) drops the assignment and frees the courier. After
 * `maxNotifyAttempts` failed notices staff are alerted (`unconfirmed`) and the notices go on; the
 * courier stays busy with the order (ordering may have recorded it, with only its answer lost). A
 * failed notice also puts the restaurant's other queued orders off as long ({@link deferRestaurantQueue}).
 *
 * Every call to ordering is given up after `orderCallTimeoutMs` (at most half the lease) and counts as failed.
 */
export async function dispatchOnce(env: DispatchEnv, options: DispatchOptions = {}, turn = 0): Promise<DispatchStep> {
  const claimFirst = turn % 2 === 1;
  if (claimFirst) {
    const claimed = await claimNewOrder(env, options);
    if (claimed.outcome !== 'idle') return claimed;
  }
  const notifyLeaseMs = options.notifyLeaseMs ?? 30_000;
  // One transaction for every sweep: each look-up after the first (an index probe that almost always
  // finds nothing) runs only when the ones before found nothing, and costs a statement, not a round trip.
  const due = await env.unitOfWork(context, (tx) => claimDueWork(tx, notifyLeaseMs, Math.floor(turn / 2)));
  if (due !== null) return doDueWork(env, due, options);
  return claimFirst ? { outcome: 'idle' } : claimNewOrder(env, options);
}

/** Due work one step claimed, with its lease. */
type DueWork = { readonly kind: 'notice'; readonly notice: PendingNotification } | { readonly kind: 'hold'; readonly hold: DueHold } | { readonly kind: 'pickup'; readonly pickup: MissedPickup };

/** The sweeps for due work, in the order of turn 0. */
const SWEEPS: ReadonlyArray<(tx: Tx, leaseMs: number) => Promise<DueWork | null>> = [
  async (tx, leaseMs) => {
    const notice = await claimPendingNotification(tx, leaseMs);
    return notice === null ? null : { kind: 'notice', notice };
  },
  async (tx, leaseMs) => {
    const hold = await claimDueHold(tx, leaseMs);
    return hold === null ? null : { kind: 'hold', hold };
  },
  async (tx, leaseMs) => {
    const pickup = await claimMissedPickup(tx, leaseMs);
    return pickup === null ? null : { kind: 'pickup', pickup };
  },
];

/** Claims the first due work the sweeps find, starting with sweep number `first` (modulo their count). */
async function claimDueWork(tx: Tx, leaseMs: number, first: number): Promise<DueWork | null> {
  for (let i = 0; i < SWEEPS.length; i++) {
    const found = await SWEEPS[(first + i) % SWEEPS.length]!(tx, leaseMs);
    if (found !== null) return found;
  }
  return null;
}

async function doDueWork(env: DispatchEnv, due: DueWork, options: DispatchOptions): Promise<DispatchStep> {
  switch (due.kind) {
    case 'notice':
      return due.notice.reservation ? settleReservation(env, due.notice, options) : notify(env, due.notice, options);
    case 'hold':
      return settleHold(env, due.hold, options);
    case 'pickup':
      if (due.pickup.postponed) return { outcome: 'pickup-waits', orderId: due.pickup.orderId, courierId: due.pickup.courierId };
      return firePickupDeadline(env, due.pickup, options);
  }
}

/** Claims a new order with a courier and tells ordering; `idle` when no queued order is due. */
async function claimNewOrder(env: DispatchEnv, options: DispatchOptions): Promise<DispatchStep> {
  const notifyLeaseMs = options.notifyLeaseMs ?? 30_000;
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
 * `call` (to ordering), given up after `orderCallTimeoutMs`, at most half the notice lease (see
 * {@link DispatchOptions.orderCallTimeoutMs}): a call that hangs fails as any transient failure does.
 */
function askOrdering<T>(call: Promise<T>, options: DispatchOptions): Promise<T> {
  const ms = Math.min(options.orderCallTimeoutMs ?? 10_000, (options.notifyLeaseMs ?? 30_000) / 2);
  return withDeadline(call, ms, `ordering did not answer within ${ms} ms (the dispatch gave the call up; it is retried)`);
}

/**
 * A notice to ordering of an assignment of `tenantId`'s order failed: it is retried after `delayMs`
 * (returns the row's count of failed notices, {@link postponeNotification}), and the restaurant's
 * queued orders wait as long ({@link deferRestaurantQueue}).
 */
async function noticeFailed(tx: Tx, input: { tenantId: string; orderId: string; courierId: string; delayMs: number; error: string }): Promise<number | null> {
  const failed = await postponeNotification(tx, input);
  await deferRestaurantQueue(tx, { tenantId: input.tenantId, delayMs: input.delayMs });
  return failed;
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
    recorded = await askOrdering(env.orders.orderCourier({ restaurantId: tenantId, orderId }), options);
  } catch (error) {
    const delayMs = backoffDelay(reservation.attempts + 1, { initialMs: 1000, maxMs: 60_000, ...options.notifyBackoff }, options.random);
    const message = error instanceof Error ? error.message : String(error);
    await env.unitOfWork(context, (tx) => noticeFailed(tx, { tenantId, orderId, courierId, delayMs, error: message }));
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

/**
 * Settles a staff hold of a courier (`holdCourier`: staff reassigning an order to them, decision 0084)
 * whose lease ended before ordering's CourierAssigned for the held order ended it: asks ordering (a
 * read) which courier the order has. This courier: ordering recorded the reassignment and only its
 * event is late (relay lag, a broker outage), so the hold stands for the lease {@link claimDueHold}
 * took (`hold-kept`); it used to lapse by the clock, and the dispatch gave the courier a second order.
 * Another courier, none, or no such order: the append failed, so the hold ends (`hold-ended`,
 * {@link clearCourierHold}, which wakes an order of the city if the courier is free). A failed read
 * leaves the hold standing until the lease's end, when it is asked again (`notify-failed`): while
 * ordering cannot answer, keeping the courier is the side that never gives them two orders.
 */
async function settleHold(env: DispatchEnv, hold: DueHold, options: DispatchOptions): Promise<DispatchStep> {
  const { tenantId, orderId, courierId } = hold;
  let recorded: { readonly courierId: string | null } | null;
  try {
    recorded = await askOrdering(env.orders.orderCourier({ restaurantId: tenantId, orderId }), options);
  } catch {
    return { outcome: 'notify-failed', orderId, courierId };
  }
  if (recorded?.courierId === courierId) return { outcome: 'hold-kept', orderId, courierId };
  await env.unitOfWork(context, (tx) => clearCourierHold(tx, { tenantId, orderId, courierId, leasedUntil: hold.leasedUntil }));
  return { outcome: 'hold-ended', orderId, courierId };
}

/**
 * Fires a pick-up deadline that has passed ({@link claimMissedPickup} pushed it a lease on): asks
 * ordering to take the courier off the order for that assignment (`unassignCourier`). Ordering
 * decides against the order's stream: an order picked up meanwhile, delivered, cancelled or rejected
 * answers 404/422, and a reassignment (another courier, or the same one given it again) or a courier
 * taken off already appends nothing (it answers false); either way the deadline ends
 * (`pickup-settled`), doing nothing. Else ordering appends CourierUnassigned (`pickup-missed`), and the
 * order-events consumer queues the order again and takes the courier off dispatch
 * ({@link recordCourierUnassigned}). Any other failure leaves the deadline to fire again at the
 * lease's end (`notify-failed`).
 */
async function firePickupDeadline(env: DispatchEnv, missed: MissedPickup, options: DispatchOptions): Promise<DispatchStep> {
  const { tenantId, orderId, courierId, assignment } = missed;
  let outcome: 'pickup-missed' | 'pickup-settled';
  try {
    const unassigned = await askOrdering(env.orders.unassignCourier({ restaurantId: tenantId, orderId, courierId, assignment, reason: 'not picked up in time' }, missed.cause), options);
    // Found by review: a reassignment (nothing appended) was reported as `pickup-missed`.
    outcome = unassigned ? 'pickup-missed' : 'pickup-settled';
  } catch (error) {
    if (!(error instanceof BrigadeError && (error.status === 404 || error.status === 422))) return { outcome: 'notify-failed', orderId, courierId };
    outcome = 'pickup-settled';
  }
  await env.unitOfWork(context, (tx) => endPickupDeadline(tx, missed));
  return { outcome, orderId, courierId };
}

async function notify(
  env: DispatchEnv,
  assignment: { tenantId: string; orderId: string; courierId: string; attempts: number; cause: CommandCause },
  options: DispatchOptions,
): Promise<DispatchStep> {
  const { tenantId, orderId, courierId } = assignment;
  try {
    await askOrdering(env.orders.assignCourier({ restaurantId: tenantId, orderId, courierId }, assignment.cause), options);
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
      const failed = await noticeFailed(tx, { tenantId, orderId, courierId, delayMs, error: message });
      // null: a CourierAssigned settled the order meanwhile (confirmed it, or staff chose).
      if (failed !== maxNotifyAttempts) return false;
      return giveUpNotification(tx, { tenantId, orderId, courierId, attempts: failed, error: message });
    });
    return { outcome: alerted ? 'unconfirmed' : 'notify-failed', orderId, courierId };
  }
  await env.unitOfWork(context, (tx) => markNotified(tx, { tenantId, orderId, courierId }));
  return { outcome: 'assigned', orderId, courierId };
}
