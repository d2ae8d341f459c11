import type { Tx } from '../../../platform/db/index.ts';
import { mapPlatformError } from './errors.ts';
import { findOrCreateCity } from './findOrCreateCity.ts';
import { pickupAddressOf } from '../newRestaurant.ts';

/** A restaurant (a tenant) as the API shows it. */
export interface Restaurant {
  id: string;
  name: string;
  city: string;
  cityId: string;
  currency: string;
  /** Where couriers pick its orders up, or null until it is set. */
  pickupAddress: string | null;
  createdAt: string;
}

/**
 * Creates a restaurant in a city, creating the city on first use (matched whatever its case, see
 * {@link findOrCreateCity}), with its pick-up address when given (kept NFC, `pickupAddressOf`). Admin only (RLS enforces it).
 */
export async function createRestaurant(tx: Tx, input: { name: string; city: string; currency?: string | undefined; pickupAddress?: string | undefined }): Promise<Restaurant> {
  try {
    const city = await findOrCreateCity(tx, input.city);
    const row = await tx.query<Restaurant>(
      `insert into platform.restaurants (city_id, name, currency, pickup_address) values ($1, $2, $3, $5)
       returning id, name, $4::text as city, city_id as "cityId", currency, pickup_address as "pickupAddress", created_at as "createdAt"`,
      [city.id, input.name, input.currency ?? 'EUR', city.name, input.pickupAddress === undefined ? null : pickupAddressOf(input.pickupAddress)],
    );
    return row.rows[0] as Restaurant;
  } catch (error) {
    mapPlatformError(error, { unique: [`A restaurant named ${input.name} in ${input.city}`, 'name'] });
  }
}
