import type { Statement, Tx } from '../../../platform/db/index.ts';

/** Records a new order in `ordering.order_index`, in the transaction that appends its first event. */
export async function indexOrder(tx: Tx, order: { orderId: string; restaurantId: string; customerId: string; placedAt: string }): Promise<void> {
  await tx.query({
    name: 'brigade_index_order',
    text: `insert into ordering.order_index (tenant_id, order_id, customer_id, placed_at) values ($1, $2, $3, $4)`,
    values: [order.restaurantId, order.orderId, order.customerId, order.placedAt],
  });
}

/** Records the assigned courier (so that courier can find the order): a statement for the transaction that appends CourierAssigned. */
export function indexCourier(order: { orderId: string; restaurantId: string; courierId: string }): Statement {
  return {
    name: 'brigade_index_courier',
    text: `update ordering.order_index set courier_id = $3 where tenant_id = $1 and order_id = $2`,
    values: [order.restaurantId, order.orderId, order.courierId],
  };
}

/** Forgets the courier taken off the order (they no longer find it): a statement for the transaction that appends CourierUnassigned. */
export function unindexCourier(order: { orderId: string; restaurantId: string; courierId: string }): Statement {
  return {
    name: 'brigade_unindex_courier',
    text: `update ordering.order_index set courier_id = null where tenant_id = $1 and order_id = $2 and courier_id = $3`,
    values: [order.restaurantId, order.orderId, order.courierId],
  };
}
