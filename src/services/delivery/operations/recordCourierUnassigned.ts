import type { Tx } from '../../../platform/db/index.ts';
import { setAvailability } from './availability.ts';
import { announceDispatch } from './dispatchWork.ts';
import { releaseCourier } from './releaseCourier.ts';

/**
 * The `reason` delivery gives ordering's `unassign-courier` when an admin revoked the courier's tokens
 * (`courierDispatch().handBackOrders`): the CourierUnassigned it appends is no missed pick-up, so
 * {@link recordCourierUnassigned} leaves the courier no notice of one.
 */
export const TOKENS_REVOKED_REASON = 'courier tokens revoked';

/**
 * Applies ordering's `CourierUnassigned { orderId, courierId, assignment }` (the pick-up deadline,
 * missed: decision 0040) to delivery, in the order-events consumer's inbox transaction: while the
 * order's row still holds that courier by that assignment, the order goes back to the dispatch queue
 * (queued, due now, no courier, a new count of attempts: dispatch or staff assign another courier),
 * the courier is released from it ({@link releaseCourier}, reason `dropped`), and then taken off
 * dispatch with the statements of the admin's take-off (`setAvailability` with `available: false`,
 * as `courierDispatch` runs it): offline now, or, if staff gave them another order too, offline once
 * it ends and out of staff's picker meanwhile (`asked_to_stop`). They are not given the next order;
 * they come back by pressing "Start taking deliveries", and until then their availability says why
 * (`missed_order_id`, `missed_within`: its `notice`). A courier who was carrying another order when
 * the deadline fired (a deadline started before the window counted only while the courier is free for
 * the order, migration 0027) is only released from this one: they were delivering, not gone. A row
 * holding another courier or a later assignment (applied before this event arrived), or an order
 * over, is left alone. Idempotent. Returns whether the order was queued again. Run as the system actor.
 *
 * The same for a CourierUnassigned of a revocation of the courier's tokens (`reason`
 * {@link TOKENS_REVOKED_REASON}, decision 0040, "Fixed later (forty-ninth session, 7 Dec 2026)"),
 * except that their availability gets no notice of a missed pick-up: they missed none.
 */
export async function recordCourierUnassigned(tx: Tx, input: { tenantId: string; orderId: string; courierId: string; assignment: number; reason?: string }): Promise<boolean> {
  // Lock order as on every path: the order's queue row (this update), then the courier's row
  // (read for update below, releaseCourier, setAvailability), then the city (releaseCourier's wake).
  const { rows } = await tx.query<{ within: string | null }>(
    `with old as (
       select tenant_id, order_id, pickup_within from delivery.dispatch_queue where tenant_id = $1 and order_id = $2 for update
     )
     update delivery.dispatch_queue q
        set state = 'queued', courier_id = null, assigned_at = null, notified_at = null, notify_attempts = 0, attempts = 0,
            next_attempt_at = now(), last_error = null, reserved_from = null,
            pickup_due_at = null, pickup_courier_id = null, pickup_assignment = null, pickup_within = null
       from old
      where q.tenant_id = old.tenant_id and q.order_id = old.order_id and q.state = 'assigned' and q.courier_id = $3
        and (q.courier_assignment is null or q.courier_assignment <= $4)
      returning old.pickup_within::text as within`,
    [input.tenantId, input.orderId, input.courierId, input.assignment],
  );
  if (rows.length === 0) return false;
  const courier = await tx.query<{ city: string; elsewhere: boolean }>(
    `select city, coalesce(current_order_id is not null and (current_tenant_id, current_order_id) is distinct from ($2::uuid, $3::uuid), false) as elsewhere
       from delivery.courier_availability where courier_id = $1 for update`,
    [input.courierId, input.tenantId, input.orderId],
  );
  const elsewhere = courier.rows[0]?.elsewhere === true;
  // `offline`: they go offline rather than available (no wake of their city's orders for a courier who is not there).
  await releaseCourier(tx, { tenantId: input.tenantId, orderId: input.orderId, courierId: input.courierId, reason: 'dropped', ...(elsewhere ? {} : { offline: true }) });
  const city = courier.rows[0]?.city;
  if (city !== undefined && !elsewhere) {
    await setAvailability(tx, { courierId: input.courierId, city, available: false });
    if (input.reason !== TOKENS_REVOKED_REASON) await tx.query(`update delivery.courier_availability set missed_order_id = $2, missed_within = $3::interval where courier_id = $1`, [input.courierId, input.orderId, rows[0]!.within]);
  }
  announceDispatch(tx);
  return true;
}
