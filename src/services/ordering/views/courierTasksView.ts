import type { RowState } from '../../../platform/projections/index.ts';
import type { EventStore, FoldEvent } from '../../../platform/events/index.ts';
import type { OrderEventType } from '../domain/orderEvents.ts';
import { defineOrderView } from './defineOrderView.ts';
import { dataOf, orderKey, STATUS_OF, uuidOrNull } from './orderEventsOf.ts';

/**
 * The fold of the courier task-list: one row per order from placement (pickup restaurant and
 * delivery address known early), assigned to a courier by CourierAssigned, taken off them by CourierUnassigned.
 */
export function evolveCourierTask(row: RowState | null, event: FoldEvent): RowState | undefined {
  const type = event.type as OrderEventType;
  const base = { updated_at: event.metadata.occurredAt, version: event.streamVersion };
  if (type === 'OrderPlaced') {
    const d = dataOf(event, 'OrderPlaced');
    const [tenantId, orderId] = orderKey(event)!;
    return {
      tenant_id: tenantId,
      order_id: orderId,
      courier_id: null,
      status: 'placed',
      restaurant_id: uuidOrNull(d.restaurantId) ?? tenantId,
      delivery_address: typeof d.deliveryAddress === 'string' ? d.deliveryAddress : JSON.stringify(d.deliveryAddress ?? null),
      assigned_at: null,
      ...base,
    };
  }
  if (row === null) return undefined;
  if (type === 'CourierAssigned') {
    return { ...row, ...base, courier_id: uuidOrNull(dataOf(event, 'CourierAssigned').courierId), assigned_at: event.metadata.occurredAt };
  }
  if (type === 'CourierUnassigned') {
    // The courier taken off (the pick-up deadline) no longer has the order in their list.
    if (row.courier_id !== uuidOrNull(dataOf(event, 'CourierUnassigned').courierId)) return { ...row, ...base };
    return { ...row, ...base, courier_id: null, assigned_at: null };
  }
  if (type === 'OrderPickedUp') {
    return { ...row, ...base, status: 'picked_up', courier_id: uuidOrNull(dataOf(event, 'OrderPickedUp').courierId) ?? row.courier_id };
  }
  const status = STATUS_OF[type];
  return { ...row, ...base, ...(status === undefined ? {} : { status }) };
}

/** The courier task-list projection (`ordering.courier_tasks_view`). */
export function courierTasksProjection(store: EventStore) {
  return defineOrderView(store, {
    name: 'courier-tasks',
    table: 'courier_tasks_view',
    columns: {
      tenant_id: 'uuid',
      order_id: 'uuid',
      courier_id: 'uuid',
      status: 'text',
      restaurant_id: 'uuid',
      delivery_address: 'text',
      assigned_at: 'timestamptz',
      updated_at: 'timestamptz',
      version: 'integer',
    },
    evolve: evolveCourierTask,
  });
}
