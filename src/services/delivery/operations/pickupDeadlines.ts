import type { Tx } from '../../../platform/db/index.ts';
import type { CommandCause } from '../ports.ts';
import { causeOfRow, type CauseColumns } from './dispatchCause.ts';

/**
 * Starts the pick-up deadline of the order's assignment, if it has none yet: once the order is both
 * ready (`ready`: this is its OrderReady; else an earlier one was recorded) and assigned to a courier
 * ordering has recorded (confirmed, with ordering's number of the assignment), that courier has
 * `withinMs` to pick it up (decision 0040). The deadline belongs to the assignment, the courier and
 * the number: the same assignment again (a redelivered event, the dispatch's own assignment confirmed)
 * leaves it running, a new one (another courier, or the same courier given the order again) starts
 * its own in place of the old. An assignment without a number (recorded before ordering numbered
 * them) gets none: ordering takes a courier off by number only. The window is kept with the deadline
 * (`pickup_within`): a courier staff gave the order while they carried another is not free for it
 * yet, and {@link claimMissedPickup} moves the deadline on until they have had the whole window free
 * for it. Idempotent. Run as the system actor, in the order-events consumer's transaction, after the
 * event was applied to the row.
 */
export async function startPickupDeadline(tx: Tx, input: { tenantId: string; orderId: string; withinMs: number; ready?: boolean }): Promise<void> {
  if (input.ready === true) {
    await tx.query(`update delivery.dispatch_queue set order_ready_at = now() where tenant_id = $1 and order_id = $2 and order_ready_at is null`, [input.tenantId, input.orderId]);
  }
  await tx.query(
    `update delivery.dispatch_queue
        set pickup_due_at = now() + make_interval(secs => $3::double precision / 1000), pickup_within = make_interval(secs => $3::double precision / 1000),
            pickup_courier_id = courier_id, pickup_assignment = courier_assignment
      where tenant_id = $1 and order_id = $2 and state = 'assigned' and notified_at is not null and courier_assignment is not null and order_ready_at is not null
        and (pickup_courier_id is distinct from courier_id or pickup_assignment is distinct from courier_assignment)`,
    [input.tenantId, input.orderId, input.withinMs],
  );
}

/** A pick-up deadline that has passed, claimed by {@link claimMissedPickup}. */
export interface MissedPickup {
  readonly tenantId: string;
  readonly orderId: string;
  /** The courier who has not picked the order up. */
  readonly courierId: string;
  /** Ordering's number of their assignment. */
  readonly assignment: number;
  /** The order event that queued the order: the command's cause. */
  readonly cause: CommandCause;
  /**
   * The courier was not free for the order for the whole window yet: busy with another order (staff
   * gave them this one "after their current one"), or moved on to this one less than the window ago.
   * The deadline was moved on, not fired: nothing is to be asked of ordering.
   */
  readonly postponed: boolean;
}

/**
 * Claims the assigned order whose pick-up deadline passed first. The window counts only while the
 * courier is free for the order (decision 0040, "Fixed later (forty-eighth session …)", the
 * follow-up): when the courier carries another order (their `current_order_id`), the deadline is moved
 * a window on and checked again then; when they moved on to this order less than a window ago
 * (`current_since`, set when their previous order ended), it is moved to a window after that. Either
 * way it is `postponed`, and a courier busy delivering is never taken off the order or off dispatch
 * by it. Otherwise its deadline is pushed `leaseMs` on: if this worker dies before ordering answers,
 * another worker fires it again then (ordering's `unassign-courier` is idempotent). Null when none is
 * due. `FOR UPDATE SKIP LOCKED`: competing workers fire different deadlines. The courier's row is read,
 * not locked: it moves on to this order only in the transaction that releases them from the other,
 * and that one seen late only postpones the deadline again. A deadline started before its window was
 * kept (`pickup_within` null) counts its window from the later of the order's readiness and its
 * assignment. Run as the system actor.
 */
export async function claimMissedPickup(tx: Tx, leaseMs: number): Promise<MissedPickup | null> {
  const { rows } = await tx.query<{ tenant_id: string; order_id: string; pickup_courier_id: string; pickup_assignment: number; postponed: boolean } & CauseColumns>(
    `with due as (
       select tenant_id, order_id from delivery.dispatch_queue
        where state = 'assigned' and pickup_due_at <= now()
        order by pickup_due_at
        limit 1
        for update skip locked
     ), checked as (
       select q.tenant_id, q.order_id,
              coalesce(q.pickup_within, q.pickup_due_at - greatest(q.order_ready_at, q.assigned_at)) as within,
              coalesce(a.current_order_id is not null and (a.current_tenant_id, a.current_order_id) is distinct from (q.tenant_id, q.order_id), false) as elsewhere,
              a.current_since
         from due join delivery.dispatch_queue q on q.tenant_id = due.tenant_id and q.order_id = due.order_id
         left join delivery.courier_availability a on a.courier_id = q.pickup_courier_id
     )
     update delivery.dispatch_queue q
        set pickup_within = c.within,
            pickup_due_at = case when c.elsewhere then now() + c.within
                                 when c.current_since + c.within > now() then c.current_since + c.within
                                 else now() + make_interval(secs => $1::double precision / 1000) end
       from checked c where q.tenant_id = c.tenant_id and q.order_id = c.order_id
     returning q.tenant_id, q.order_id, q.pickup_courier_id, q.pickup_assignment, q.causation_id, q.correlation_id, q.traceparent,
               (c.elsewhere or coalesce(c.current_since + c.within > now(), false)) as postponed`,
    [leaseMs],
  );
  const row = rows[0];
  if (row === undefined) return null;
  return {
    tenantId: row.tenant_id,
    orderId: row.order_id,
    courierId: row.pickup_courier_id,
    assignment: row.pickup_assignment,
    cause: causeOfRow(row),
    postponed: row.postponed,
  };
}

/**
 * Ends the pick-up deadline of that assignment once ordering answered (it took the courier off, or
 * the assignment was over: picked up, reassigned, the order ended). A deadline that a new assignment
 * started meanwhile is left running. Run as the system actor.
 */
export async function endPickupDeadline(tx: Tx, missed: Pick<MissedPickup, 'tenantId' | 'orderId' | 'courierId' | 'assignment'>): Promise<void> {
  await tx.query(
    `update delivery.dispatch_queue set pickup_due_at = null
      where tenant_id = $1 and order_id = $2 and pickup_courier_id = $3 and pickup_assignment = $4`,
    [missed.tenantId, missed.orderId, missed.courierId, missed.assignment],
  );
}
