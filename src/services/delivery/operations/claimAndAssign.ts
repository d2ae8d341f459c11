import type { Tx } from '../../../platform/db/index.ts';
import type { CommandCause } from '../ports.ts';
import { causeOfRow, type CauseColumns } from './dispatchCause.ts';
import { HELD } from './freeForDispatch.ts';

/** An order claimed from the dispatch queue (its row stays locked until the transaction ends). */
export interface DispatchJob {
  readonly tenantId: string;
  readonly orderId: string;
  readonly city: string;
  /** Attempts before this one. */
  readonly attempts: number;
  /** The order event that queued the order (empty for a row queued before causes were kept). */
  readonly cause: CommandCause;
}

/** What {@link claimAndAssign} did: nothing due, or a job with the courier it got (null: none free). */
export type ClaimResult = { readonly job: null } | { readonly job: DispatchJob; readonly courierId: string | null };

/**
 * Claims the due queued order that has waited longest and, in the same statement, the available
 * courier of its city who has waited longest, then marks both: the order `assigned` to the courier
 * (due for the ordering notification after `notifyLeaseMs`, in case this worker dies before it tells
 * ordering, with no failed notice counted yet: a row queued again keeps no count of an earlier
 * assignment's), the courier `busy` with the order, and an assignment row. Run as the system actor.
 *
 * Both picks are `FOR UPDATE SKIP LOCKED`: competing workers never wait on each other's order or
 * courier, and never take the same one (a locked row is skipped, an unlocked one is locked before it
 * is marked). The courier's status is re-checked after the lock (EvalPlanQual), so a courier another
 * worker just made busy is never taken, nor one staff hold for an order they are reassigning to them
 * (`HELD`, see `holdCourier`: until ordering's event or the sweep ends the hold; re-checked likewise). When no courier could be locked the order comes back
 * (`courierId: null`) still locked, for {@link deferDispatch}.
 */
export async function claimAndAssign(tx: Tx, options: { notifyLeaseMs: number }): Promise<ClaimResult> {
  // One statement: claim, pick and mark with one snapshot and one round trip, so the order and the
  // courier are locked for as short a time as possible. Data-modifying CTEs run only when `pick`
  // found a courier (they join it).
  const { rows } = await tx.query<{ tenant_id: string; order_id: string; city: string; attempts: number; courier_id: string | null } & CauseColumns>(
    `with job as (
       select tenant_id, order_id, city, attempts, causation_id, correlation_id, traceparent from delivery.dispatch_queue
        where state = 'queued' and next_attempt_at <= now()
        order by next_attempt_at, ready_at
        limit 1
        for update skip locked
     ), pick as (
       select a.courier_id from delivery.courier_availability a, job
        where a.city = job.city and a.status = 'available' and not ${HELD}
        order by a.available_since, a.courier_id
        limit 1
        for update of a skip locked
     ), busy as (
       update delivery.courier_availability a
          set status = 'busy', current_tenant_id = job.tenant_id, current_order_id = job.order_id, current_since = now(), updated_at = now()
         from pick, job where a.courier_id = pick.courier_id
       returning a.courier_id
     ), assigned as (
       update delivery.dispatch_queue q
          set state = 'assigned', courier_id = busy.courier_id, assigned_at = now(), attempts = q.attempts + 1,
              notified_at = null, notify_attempts = 0, next_attempt_at = now() + make_interval(secs => $1::double precision / 1000), last_error = null, reserved_from = null
         from busy, job where q.tenant_id = job.tenant_id and q.order_id = job.order_id
       returning q.order_id
     ), history as (
       insert into delivery.assignments (tenant_id, order_id, courier_id)
       select job.tenant_id, job.order_id, busy.courier_id from job, busy
       on conflict (tenant_id, order_id, courier_id) do update set assigned_at = now(), released_at = null, release_reason = null
     )
     select job.tenant_id, job.order_id, job.city, job.attempts, job.causation_id, job.correlation_id, job.traceparent, busy.courier_id
       from job left join busy on true`,
    [options.notifyLeaseMs],
  );
  const row = rows[0];
  if (row === undefined) return { job: null };
  return { job: { tenantId: row.tenant_id, orderId: row.order_id, city: row.city, attempts: row.attempts, cause: causeOfRow(row) }, courierId: row.courier_id };
}
