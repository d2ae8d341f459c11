import type { Tx } from '../../../platform/db/index.ts';
import { wakeOneInCity } from './wakeCity.ts';

/** How an order left dispatch: ordering's OrderDelivered / OrderCancelled, or the dispatch itself gave the assignment up. */
export type FinishReason = 'delivered' | 'cancelled' | 'dropped';

/**
 * Ends an order's dispatch and frees its courier: the queue row goes to `reason` (unless already
 * finished), the courier becomes available again (waiting from now) when they still hold this order,
 * the assignment is closed, and one backing-off order of the city is woken for them. Idempotent: a
 * second call finds nothing to change. Returns the freed courier, or null. Run as the system actor.
 */
export async function finishOrder(tx: Tx, input: { tenantId: string; orderId: string; reason: FinishReason }): Promise<string | null> {
  const { rows } = await tx.query<{ courier_id: string | null; city: string }>(
    `update delivery.dispatch_queue set state = $3, finished_at = now()
      where tenant_id = $1 and order_id = $2 and state in ('queued', 'assigned', 'dead')
      returning courier_id, city`,
    [input.tenantId, input.orderId, input.reason],
  );
  const row = rows[0];
  if (row === undefined || row.courier_id === null) return null;
  const freed = await tx.query(
    `update delivery.courier_availability
        set status = 'available', current_tenant_id = null, current_order_id = null, available_since = now(), updated_at = now()
      where courier_id = $1 and current_tenant_id = $2 and current_order_id = $3`,
    [row.courier_id, input.tenantId, input.orderId],
  );
  await tx.query(
    `update delivery.assignments set released_at = now(), release_reason = $4
      where tenant_id = $1 and order_id = $2 and courier_id = $3 and released_at is null`,
    [input.tenantId, input.orderId, row.courier_id, input.reason],
  );
  if ((freed.rowCount ?? 0) === 0) return null;
  await wakeOneInCity(tx, row.city);
  return row.courier_id;
}
