import type { Tx } from '../../../platform/db/index.ts';
import type { RestaurantWithChanges } from './createRestaurant.ts';

/**
 * One restaurant of the directory, as `listRestaurants` lists it: its name, city, currency, pick-up
 * address and version, and who changed the address last and when (the route shows those two to the
 * restaurant's admins and staff only). The live board names its restaurant with it (it knew only the id).
 *
 * @returns the restaurant, or `null` when the directory does not know `id`.
 */
export async function getRestaurant(tx: Tx, id: string): Promise<RestaurantWithChanges | null> {
  const row = await tx.query<RestaurantWithChanges>(
    `select r.id, r.name, c.name as city, c.id as "cityId", r.currency, r.pickup_address as "pickupAddress", r.created_at as "createdAt", r.version,
            r.pickup_address_changed_by as "pickupAddressChangedBy", r.pickup_address_changed_at as "pickupAddressChangedAt"
       from platform.restaurants r join platform.cities c on c.id = r.city_id
      where r.id = $1`,
    [id],
  );
  return row.rows[0] ?? null;
}
