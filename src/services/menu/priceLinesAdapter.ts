import type { UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { NotFoundError } from '../../platform/errors/index.ts';
import { priceLines, type PriceLineRequest } from './operations/priceLines.ts';
import { requireTakingOrders } from './operations/requireTakingOrders.ts';
import type { RestaurantDirectory } from './ports.ts';

/**
 * The menu's in-process pricing adapter for the ordering service's `MenuCatalog` port (the
 * composition root wires it; ordering never imports menu). Reads the live menu in a read-only menu
 * transaction as a `system` reader routed to the restaurant's database, and the currency from the
 * restaurant directory.
 *
 * @example
 * createOrderingService((deps) => ({ menu: menuCatalog(deps.unitOfWork, restaurantDirectory(deps.unitOfWork)) }))
 */
export function menuCatalog(unitOfWork: UnitOfWorkFn, directory: RestaurantDirectory) {
  return {
    /**
     * Prices lines (see `priceLines`), with the instant read; 404 for an unknown restaurant; 409
     * `RESTAURANT_NOT_TAKING_ORDERS` while its new orders are paused (decision 0094). Each line carries
     * the restaurant's currency.
     */
    async priceLines(restaurantId: string, lines: readonly PriceLineRequest[]) {
      const restaurant = await directory.restaurant(restaurantId);
      if (restaurant === null) throw new NotFoundError('restaurant', restaurantId);
      const priced = await unitOfWork({ service: 'menu', tenantId: restaurantId, actor: { kind: 'system', id: 'menu.priceLines' }, readOnly: true }, (tx) =>
        // Sent together (one connection, in order): the pause's refusal, read first, wins over a line's.
        Promise.all([requireTakingOrders(tx, restaurantId), priceLines(tx, restaurantId, lines)]).then(([, priced]) => priced),
      );
      return { pricedAt: priced.pricedAt, lines: priced.lines.map((line) => ({ ...line, currency: restaurant.currency })) };
    },
  };
}
