import { createEventStore, type EventStore } from '../../../platform/events/index.ts';
import type { RowProjection } from '../../../platform/projections/index.ts';
import { boardProjection } from './boardView.ts';
import { courierTasksProjection } from './courierTasksView.ts';
import { customerOrdersProjection } from './customerOrdersView.ts';

/** The three order read models, over one event store. */
export interface OrderViewProjections {
  readonly board: RowProjection;
  readonly customerOrders: RowProjection;
  readonly courierTasks: RowProjection;
  /** All three, in a fixed order (for workers, status and rebuild). */
  readonly all: readonly RowProjection[];
}

/**
 * The order read models over `store` (pass the ordering service's store so its upcasters apply).
 *
 * @example
 * const views = orderViewProjections(createEventStore({ schema: 'ordering', upcasters }));
 */
export function orderViewProjections(store: EventStore): OrderViewProjections {
  const board = boardProjection(store);
  const customerOrders = customerOrdersProjection(store);
  const courierTasks = courierTasksProjection(store);
  return Object.freeze({ board, customerOrders, courierTasks, all: Object.freeze([board, customerOrders, courierTasks]) });
}

/** The order read models over the ordering schema's store without upcasters (event schema v1). */
export const ORDER_VIEWS: OrderViewProjections = orderViewProjections(createEventStore({ schema: 'ordering' }));
