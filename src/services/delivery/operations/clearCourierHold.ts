import type { Tx } from '../../../platform/db/index.ts';
import { freeForDispatch } from './freeForDispatch.ts';
import { wakeOneInCity } from './wakeCity.ts';

/**
 * Ends the hold {@link holdCourier} put on `courierId` for this order: ordering's CourierAssigned for
 * the order has been applied (the courier is busy with it now, or the event was older than the one
 * applied, or the order is over), or the dispatch's sweep found that ordering does not have the courier
 * on the order (`leasedUntil`: only the hold as the sweep's `claimDueHold` leased it, not one renewed
 * since). A hold for another order is left. A courier the end of the hold leaves free for the dispatch
 * (available: the event was ignored, they were released while held, or the hold lapsed) wakes one
 * waiting order of their city ({@link wakeOneInCity}), the wake their release did not make while they
 * were held (`releaseCourier`). Returns whether it ended a hold. Run as the system actor, after locking
 * the order's queue row if any (lock order: the queue row, the courier's row, the city).
 */
export async function clearCourierHold(tx: Tx, input: { tenantId: string; orderId: string; courierId: string; leasedUntil?: string }): Promise<boolean> {
  const { rows } = await tx.query<{ city: string; status: string }>(
    `update delivery.courier_availability set held_until = null, held_tenant_id = null, held_order_id = null
      where courier_id = $1 and held_tenant_id = $2 and held_order_id = $3 and ($4::timestamptz is null or held_until = $4::timestamptz)
      returning city, status`,
    [input.courierId, input.tenantId, input.orderId, input.leasedUntil ?? null],
  );
  const row = rows[0];
  if (row === undefined) return false;
  // No longer held: free if available.
  if (freeForDispatch({ status: row.status, held: false })) await wakeOneInCity(tx, row.city);
  return true;
}
