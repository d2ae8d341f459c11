import type { Tx } from '../../../platform/db/index.ts';
import type { OrderPause } from './orderPauseSql.ts';
import { readOrderPauses } from './readOrderPauses.ts';

/**
 * Restaurant `tenantId`'s pause of new orders in force now (`until` unset, or later than the
 * transaction's `now()`), or null when it takes orders: no pause, or one whose `until` has passed.
 */
export async function readOrderPause(tx: Tx, tenantId: string): Promise<OrderPause | null> {
  return (await readOrderPauses(tx, [tenantId])).get(tenantId) ?? null;
}
