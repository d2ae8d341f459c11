import { defineRowProjection, type RowProjection, type RowProjectionOptions } from '../../../platform/projections/index.ts';
import type { EventStore } from '../../../platform/events/index.ts';
import { ORDER_EVENT_TYPES } from '../domain/orderEvents.ts';
import { orderKey, placesOrder } from './orderEventsOf.ts';

/**
 * One of the order views (`ordering.<table>`): a row per (tenant, order), folded from the order
 * events by `evolve`, started afresh by OrderPlaced (`startsRow`, decision 0074). `columns` must
 * include `tenant_id uuid` and `order_id uuid`, the key.
 */
export function defineOrderView(store: EventStore, view: Pick<RowProjectionOptions, 'name' | 'table' | 'columns' | 'evolve'>): RowProjection {
  return defineRowProjection({
    ...view,
    service: 'ordering',
    schema: 'ordering',
    store,
    eventTypes: ORDER_EVENT_TYPES,
    key: ['tenant_id', 'order_id'],
    keyOf: orderKey,
    startsRow: placesOrder,
  });
}
