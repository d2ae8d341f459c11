import { OPEN_ORDER_SQL, uuidOrNull } from './orderEventsOf.ts';
import type { ViewQuery } from './readView.ts';

/**
 * The WHERE of a list of open orders, unless `all`: stated with constants, so that the partial indexes
 * of open orders (ordering migration 0033) serve it.
 */
const open = (all: boolean | undefined) => (all === true ? '' : ` and ${OPEN_ORDER_SQL}`);

/**
 * A courier's tasks, newest assignment first, open ones unless `all`. The subject is compared as uuid,
 * so that an index serves it (a cast of the column would scan the view); a subject that is no uuid
 * matches nothing, as the view's row-level security says anyway.
 */
export function courierTasksQuery(courierId: string, all: boolean | undefined, limit = 100): ViewQuery {
  return { where: `t.courier_id = $1::uuid${open(all)}`, values: [uuidOrNull(courierId)], orderBy: 't.assigned_at desc, t.order_id', limit };
}

/** A customer's orders, newest first, all of them unless `all` is false (see {@link courierTasksQuery} on the subject). */
export function customerOrdersQuery(customerId: string, all: boolean | undefined, limit = 100): ViewQuery {
  return { where: `t.customer_id = $1::uuid${open(all ?? true)}`, values: [uuidOrNull(customerId)], orderBy: 't.placed_at desc, t.order_id', limit };
}

/** A restaurant's live-board: its orders in placement order, open ones unless `all`. */
export function boardQuery(restaurantId: string, all: boolean | undefined, limit = 500): ViewQuery {
  return { where: `t.tenant_id = $1${open(all)}`, values: [restaurantId], orderBy: 't.placed_at, t.order_id', limit };
}
