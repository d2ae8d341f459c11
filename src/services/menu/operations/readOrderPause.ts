import type { Tx } from '../../../platform/db/index.ts';
import { instantText, type OrderPause } from './orderPauseSql.ts';

/**
 * Restaurant `tenantId`'s pause of new orders in force now (`until` unset, or later than the
 * transaction's `now()`), or null when it takes orders: no pause, or one whose `until` has passed.
 */
export async function readOrderPause(tx: Tx, tenantId: string): Promise<OrderPause | null> {
  const { rows } = await tx.query<OrderPause>(
    `select reason, ${instantText('until')} as until, ${instantText('paused_at')} as since
       from menu.order_pauses where tenant_id = $1 and (until is null or until > now())`,
    [tenantId],
  );
  return rows[0] ?? null;
}
