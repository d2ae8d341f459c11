import type { Principal } from '../../platform/auth/index.ts';
import type { ServiceDeps } from '../../platform/runtime/index.ts';
import { locateOrder } from './operations/locateOrder.ts';
import { isUuid } from '../../platform/ids/index.ts';

/**
 * The in-process adapter other services use to show something about an order to the same people
 * `GET /v1/orders/:id` shows the order to: its customer, its restaurant's staff, its assigned
 * courier, and admins. Looks the order up in ordering's order index as the caller, so ordering's own
 * Row-Level Security decides; anyone else gets `null` (the route's 404). The index of a moved
 * restaurant's orders is in its own database, so a caller without a restaurant looks in every database.
 *
 * @example
 * const restaurantId = await orderAccess(deps).restaurantOf(principal, orderId);
 */
export function orderAccess({ unitOfWork, placements }: Pick<ServiceDeps, 'unitOfWork' | 'placements'>) {
  return {
    /** The restaurant (tenant) of the order when `reader` (the caller's verified token) may read it, else `null`. */
    async restaurantOf(reader: Principal, orderId: string): Promise<string | null> {
      // A customer's or courier's id is a UUID the policies cast: any other subject can see no order.
      if ((reader.role === 'customer' || reader.role === 'courier') && !isUuid(reader.subject)) return null;
      if (reader.role === 'staff' && reader.restaurantId === null) return null;
      const actor = { kind: reader.role, id: reader.subject };
      if (reader.role === 'staff') {
        const location = await unitOfWork({ service: 'ordering', tenantId: reader.restaurantId, actor, readOnly: true }, (tx) => locateOrder(tx, orderId));
        return location?.restaurantId ?? null;
      }
      const location = await placements.findInEveryDatabase({ service: 'ordering', actor, readOnly: true }, (tx) => locateOrder(tx, orderId));
      return location?.restaurantId ?? null;
    },
  };
}
