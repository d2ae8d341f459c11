import type { Tx } from '../../../platform/db/index.ts';

/** Where an order lives, as far as the acting transaction may see it. */
export interface OrderLocation {
  readonly orderId: string;
  readonly restaurantId: string;
  readonly customerId: string;
  readonly courierId: string | null;
}

/**
 * Looks an order up in `ordering.order_index` as the transaction's actor. Row-Level Security shows a
 * customer only their orders, staff only their restaurant's, a courier only the orders assigned to
 * them, admin and system all: `null` means "not there, or not yours", and the route answers 404.
 */
export async function locateOrder(tx: Tx, orderId: string): Promise<OrderLocation | null> {
  const { rows } = await tx.query<OrderLocation>({
    name: 'brigade_locate_order',
    text: `select order_id as "orderId", tenant_id as "restaurantId", customer_id as "customerId", courier_id as "courierId"
             from ordering.order_index where order_id = $1`,
    values: [orderId],
  });
  return rows[0] ?? null;
}
