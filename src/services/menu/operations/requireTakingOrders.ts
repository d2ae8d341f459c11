import type { Tx } from '../../../platform/db/index.ts';
import { RestaurantNotTakingOrdersError } from '../errors.ts';
import { readOrderPause } from './readOrderPause.ts';

/**
 * Refuses a placement at restaurant `tenantId` while its new orders are paused (decision 0094). Run by
 * the pricing adapter in the pricing's own transaction, so the placement is refused before the
 * ordering service reserves, appends or charges anything.
 *
 * @throws {RestaurantNotTakingOrdersError} 409 `RESTAURANT_NOT_TAKING_ORDERS`, with until when and why.
 */
export async function requireTakingOrders(tx: Tx, tenantId: string): Promise<void> {
  const pause = await readOrderPause(tx, tenantId);
  if (pause !== null) throw new RestaurantNotTakingOrdersError(tenantId, pause.until, pause.reason);
}
