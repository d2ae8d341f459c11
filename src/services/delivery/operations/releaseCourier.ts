import type { Tx } from '../../../platform/db/index.ts';
import { freeForDispatch, HELD } from './freeForDispatch.ts';
import { wakeOneInCity } from './wakeCity.ts';

/** Why a courier stopped carrying an order (the assignment history's `release_reason`). */
export type ReleaseReason = 'delivered' | 'cancelled' | 'dropped' | 'reassigned';

/**
 * Releases `courierId` from an order: the assignment history row is closed, and the courier, if they
 * are busy with this order, moves on to another order still assigned to them (staff may give one
 * courier two orders) or else takes their `released_status`: available again (waiting from now),
 * waking one backing-off order of their city unless staff hold them for another order (then the
 * hold's end wakes it: `clearCourierHold`), or offline if staff gave them the order while they were
 * offline or unknown to delivery (`recordCourierAssigned`). With `offline` (the courier vanished with
 * the order: decision 0088) they go offline when their last order ends, whatever `released_status`
 * said: now, or after another order staff gave them. Idempotent. Returns whether the courier became
 * available. A courier freed forgets that they asked to stop (`asked_to_stop`, delivery migration 0024).
 * A courier moved on to another order is free for it from now (`current_since`, migration 0027): its
 * pick-up deadline counts from then (`claimMissedPickup`).
 * Run as the system actor, in the transaction that ends or replaces the assignment, after
 * locking the order's queue row.
 */
export async function releaseCourier(tx: Tx, input: { tenantId: string; orderId: string; courierId: string; reason: ReleaseReason; offline?: boolean }): Promise<boolean> {
  // The courier's row is locked before their other orders are looked up, so the lookup's snapshot
  // includes what a concurrent release or assignment of this courier committed: without it, two
  // deliveries of one courier's two orders each saw the other order still assigned (one moved the
  // courier to an order the other had just delivered: busy for ever), and an assignment committed
  // during a release was missed (available while carrying it). Lock order: the order's queue row
  // (the caller's), then the courier's row, then the city (wakeOneInCity), on every path.
  await tx.query(`select 1 from delivery.courier_availability where courier_id = $1 for update`, [input.courierId]);
  await tx.query(
    `update delivery.assignments set released_at = now(), release_reason = $4
      where tenant_id = $1 and order_id = $2 and courier_id = $3 and released_at is null`,
    [input.tenantId, input.orderId, input.courierId, input.reason],
  );
  const next = await tx.query<{ tenant_id: string; order_id: string }>(
    `select tenant_id, order_id from delivery.dispatch_queue
      where courier_id = $1 and state = 'assigned' and not (tenant_id = $2 and order_id = $3)
      order by assigned_at limit 1`,
    [input.courierId, input.tenantId, input.orderId],
  );
  const other = next.rows[0] ?? null;
  // A courier who vanished goes offline when their last order ends, whichever of their orders the
  // row names now (staff may have given them two).
  if (input.offline === true) {
    await tx.query(`update delivery.courier_availability set released_status = 'offline' where courier_id = $1 and status = 'busy'`, [input.courierId]);
  }
  // Free: the status kept for this moment, then back to the default for the next assignment. `held`:
  // staff hold the courier for an order they are reassigning to them; the claim skips them, so they
  // wake nothing (the route's rule, freeForDispatch): a woken order found no courier and spent an
  // attempt, a dead one its one revival (found by review). The end of the hold wakes one instead.
  const { rows } = await tx.query<{ city: string; status: string; held: boolean }>(
    `update delivery.courier_availability
        set status = case when $4::uuid is null then released_status else 'busy' end,
            current_tenant_id = $4, current_order_id = $5, updated_at = now(),
            current_since = case when $4::uuid is null then null else now() end,
            available_since = case when $4::uuid is null then now() else available_since end,
            released_status = case when $4::uuid is null then 'available' else released_status end,
            asked_to_stop = case when $4::uuid is null then false else asked_to_stop end
      where courier_id = $1 and current_tenant_id = $2 and current_order_id = $3
      returning city, status, ${HELD} as held`,
    [input.courierId, input.tenantId, input.orderId, other?.tenant_id ?? null, other?.order_id ?? null],
  );
  const row = rows[0];
  if (row === undefined || row.status !== 'available') return false;
  if (freeForDispatch(row)) await wakeOneInCity(tx, row.city);
  return true;
}
