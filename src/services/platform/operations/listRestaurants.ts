import type { Tx } from '../../../platform/db/index.ts';
import type { Restaurant } from './createRestaurant.ts';

/** The public directory: restaurants, optionally of one city (by name, whatever its case), by name. */
export async function listRestaurants(tx: Tx, filter: { city?: string; limit?: number }): Promise<Restaurant[]> {
  const rows = await tx.query<Restaurant>(
    `select r.id, r.name, c.name as city, c.id as "cityId", r.currency, r.created_at as "createdAt"
       from platform.restaurants r join platform.cities c on c.id = r.city_id
      where ($1::text is null or lower(c.name) = lower($1))
      order by c.name, r.name
      limit $2`,
    [filter.city ?? null, filter.limit ?? 500],
  );
  return rows.rows;
}
