import type { Tx } from '../../../platform/db/index.ts';
import { OPEN_ORDER_SQL } from '../views/orderEventsOf.ts';

/** How many open orders {@link findOpenOrders} names at most. */
export const OPEN_ORDERS_LIMIT = 20;

/**
 * The orders of `customerId` that are not finished (delivered, rejected or cancelled), oldest first,
 * at most {@link OPEN_ORDERS_LIMIT}, as far as the transaction's actor may see them (a `system` actor
 * sees all).
 *
 * Every order is in `ordering.order_index` from the placement's own transaction on; its status is the
 * customer order-history view's. An order the view has not shown yet (a placement moments ago, or a
 * projector that is behind) counts as open, as does one whose finishing the view has not shown yet:
 * the answer errs towards open, never towards finished.
 */
export async function findOpenOrders(tx: Tx, customerId: string): Promise<string[]> {
  const { rows } = await tx.query<{ order_id: string }>(
    `select i.order_id::text from ordering.order_index i
       left join ordering.customer_orders_view t on t.tenant_id = i.tenant_id and t.order_id = i.order_id
      where i.customer_id = $1 and (t.order_id is null or ${OPEN_ORDER_SQL})
      order by i.placed_at, i.order_id limit $2`,
    [customerId, OPEN_ORDERS_LIMIT],
  );
  return rows.map((row) => row.order_id);
}
