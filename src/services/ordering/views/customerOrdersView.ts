import type { RowState } from '../../../platform/projections/index.ts';
import type { EventStore, FoldEvent } from '../../../platform/events/index.ts';
import type { OrderEventType } from '../domain/orderEvents.ts';
import { defineOrderView } from './defineOrderView.ts';
import { dataOf, orderKey, STATUS_OF, uuidOrNull } from './orderEventsOf.ts';

/** The fold of the customer order-history: one row per order with its customer, status and total. */
export function evolveCustomerOrder(row: RowState | null, event: FoldEvent): RowState | undefined {
  const type = event.type as OrderEventType;
  const base = { updated_at: event.metadata.occurredAt, version: event.streamVersion };
  if (type === 'OrderPlaced') {
    const d = dataOf(event, 'OrderPlaced');
    const [tenantId, orderId] = orderKey(event)!;
    const customerId = uuidOrNull(d.customerId);
    if (customerId === null) return undefined;
    return {
      tenant_id: tenantId,
      order_id: orderId,
      customer_id: customerId,
      restaurant_id: uuidOrNull(d.restaurantId) ?? tenantId,
      status: 'placed',
      total: Number(d.total) || 0,
      currency: String(d.currency ?? ''),
      placed_at: d.placedAt ?? event.metadata.occurredAt,
      ...base,
    };
  }
  if (row === null) return undefined;
  const status = STATUS_OF[type];
  // Events that do not move the status (a line prepared, a courier assigned) still move the version.
  return { ...row, ...base, ...(status === undefined ? {} : { status }) };
}

/** The customer order-history projection (`ordering.customer_orders_view`). */
export function customerOrdersProjection(store: EventStore) {
  return defineOrderView(store, {
    name: 'customer-orders',
    table: 'customer_orders_view',
    columns: {
      tenant_id: 'uuid',
      order_id: 'uuid',
      customer_id: 'uuid',
      restaurant_id: 'uuid',
      status: 'text',
      total: 'bigint',
      currency: 'text',
      placed_at: 'timestamptz',
      updated_at: 'timestamptz',
      version: 'integer',
    },
    evolve: evolveCustomerOrder,
  });
}
