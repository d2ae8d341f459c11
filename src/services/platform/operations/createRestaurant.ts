import type { Tx } from '../../../platform/db/index.ts';
import { mapPlatformError } from './errors.ts';
import { findOrCreateCity } from './findOrCreateCity.ts';

/** A restaurant (a tenant) as the API shows it. */
export interface Restaurant {
  id: string;
  name: string;
  city: string;
  cityId: string;
  currency: string;
  createdAt: string;
}

/** Creates a restaurant in a city, creating the city on first use (matched whatever its case, see {@link findOrCreateCity}). Admin only (RLS enforces it). */
export async function createRestaurant(tx: Tx, input: { name: string; city: string; currency?: string }): Promise<Restaurant> {
  try {
    const city = await findOrCreateCity(tx, input.city);
    const row = await tx.query<Restaurant>(
      `insert into platform.restaurants (city_id, name, currency) values ($1, $2, $3)
       returning id, name, $4::text as city, city_id as "cityId", currency, created_at as "createdAt"`,
      [city.id, input.name, input.currency ?? 'EUR', city.name],
    );
    return row.rows[0] as Restaurant;
  } catch (error) {
    mapPlatformError(error, { unique: [`A restaurant named ${input.name} in ${input.city}`, 'name'] });
  }
}
