import type { Tx } from '../../../platform/db/index.ts';
import type { Restaurant } from './createRestaurant.ts';

/**
 * One restaurant of the public directory, as `listRestaurants` lists it: its name, city,
 * currency and pick-up address. The live board names its restaurant with it (it knew only the id).
 *
 * @returns the restaurant, or `null` when the directory does not know `id`.
 */
export async function getRestaurant(tx: Tx, id: string): Promise<Restaurant | null> {
  const row = await tx.query<Restaurant>(
    `select r.id, r.name, c.name as city, c.id as "cityId", r.currency, r.pickup_address as "pickupAddress", r.created_at as "createdAt"
       from platform.restaurants r join platform.cities c on c.id = r.city_id
      where r.id = $1`,
    [id],
  );
  return row.rows[0] ?? null;
}
