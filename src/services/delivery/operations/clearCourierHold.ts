import type { Tx } from '../../../platform/db/index.ts';

/**
 * Ends the hold {@link holdCourier} put on `courierId` for this order: ordering's CourierAssigned for
 * the order has been applied (the courier is busy with it now, or the event was older than the one
 * applied, or the order is over). A hold for another order is left. Run as the system actor, after
 * locking the order's queue row.
 */
export async function clearCourierHold(tx: Tx, input: { tenantId: string; orderId: string; courierId: string }): Promise<void> {
  await tx.query(
    `update delivery.courier_availability set held_until = null, held_tenant_id = null, held_order_id = null
      where courier_id = $1 and held_tenant_id = $2 and held_order_id = $3`,
    [input.courierId, input.tenantId, input.orderId],
  );
}
