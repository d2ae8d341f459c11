import type { Tx } from '../../../platform/db/index.ts';
import type { Restaurant } from './createRestaurant.ts';
import { cityName } from './findOrCreateCity.ts';

/** Where a page of {@link listRestaurants} ends: its last restaurant's city name, name and id (the list's order). */
export interface RestaurantPosition {
  readonly city: string;
  readonly name: string;
  readonly id: string;
}

/**
 * The public directory: restaurants, optionally of one city (by name, whatever its case or Unicode form), by city name,
 * name and id, at most `limit` (500 by default), after `after` when given (keyset paging: a page does
 * not move when restaurants are added before it).
 */
export async function listRestaurants(tx: Tx, filter: { city?: string; limit?: number; after?: RestaurantPosition }): Promise<Restaurant[]> {
  const rows = await tx.query<Restaurant>(
    `select r.id, r.name, c.name as city, c.id as "cityId", r.currency, r.pickup_address as "pickupAddress", r.created_at as "createdAt", r.version
       from platform.restaurants r join platform.cities c on c.id = r.city_id
      where ($1::text is null or lower(c.name) = lower($1))
        and ($3::text is null or (c.name, r.name, r.id) > ($3::text, $4::text, $5::uuid))
      order by c.name, r.name, r.id
      limit $2`,
    [filter.city === undefined ? null : cityName(filter.city), filter.limit ?? 500, filter.after?.city ?? null, filter.after?.name ?? null, filter.after?.id ?? null],
  );
  return rows.rows;
}
