import type { Actor } from '../../platform/db/index.ts';
import { UnprocessableError } from '../../platform/errors/index.ts';
import type { UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { reserveCourier } from './operations/reserveCourier.ts';
import type { RestaurantDirectory } from './ports.ts';

const SYSTEM: Actor = { kind: 'system', id: 'delivery-reservations' };

/**
 * The in-process adapter of ordering's `CourierReservations` port: staff's assign-courier reserves the
 * courier in delivery before ordering appends the assignment ({@link reserveCourier}, decision 0084),
 * so the dispatch never hands that courier another order in between. `leaseMs`: how long the
 * reservation waits for ordering's CourierAssigned before the dispatch's notice sweep settles it with
 * ordering (the dispatch's `notifyLeaseMs`, default 30 000).
 *
 * @example
 * createOrderingService((deps) => ({ ..., reservations: courierReservations({ unitOfWork: deps.unitOfWork, restaurants: restaurantDirectory(deps.unitOfWork) }) }))
 */
export function courierReservations(deps: { readonly unitOfWork: UnitOfWorkFn; readonly restaurants: RestaurantDirectory }, options: { readonly leaseMs?: number } = {}) {
  const leaseMs = options.leaseMs ?? 30_000;
  return {
    /**
     * Reserves `courierId` for the order (number `assignment` of its courier assignments).
     *
     * @throws {UnprocessableError} `RESTAURANT_UNKNOWN`: the restaurant is not in the directory (ordering refuses the assignment).
     * @throws {CourierStoppingError} `COURIER_STOPPING` (422): the courier is on another delivery and asked to stop after it (see `recordCourierAssigned`).
     */
    async reserveCourier(input: { readonly restaurantId: string; readonly orderId: string; readonly courierId: string; readonly assignment: number }): Promise<void> {
      // The city is asked before the transaction (the directory runs its own): no connection held while waiting for another.
      const restaurant = await deps.restaurants.restaurant(input.restaurantId);
      if (restaurant === null) {
        throw new UnprocessableError('RESTAURANT_UNKNOWN', `Restaurant ${input.restaurantId} is not in the platform's directory, so its city (and its couriers) is unknown: ask an admin to register it (brigade tenants add), then assign again`, { restaurantId: input.restaurantId });
      }
      await deps.unitOfWork({ service: 'delivery', actor: SYSTEM }, (tx) =>
        reserveCourier(tx, { tenantId: input.restaurantId, orderId: input.orderId, courierId: input.courierId, assignment: input.assignment, city: restaurant.city, leaseMs }),
      );
    },
  };
}
