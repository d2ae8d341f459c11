import type { Tx } from '../../../platform/db/index.ts';
import { findOrCreateCity } from './findOrCreateCity.ts';

/** A courier: belongs to a city, not to a restaurant. */
export interface Courier {
  id: string;
  name: string;
  city: string;
  cityId: string;
  createdAt: string;
}

/** Registers a courier in a city (created on first use; matched whatever its case, see {@link findOrCreateCity}). Admin only. */
export async function createCourier(tx: Tx, input: { name: string; city: string }): Promise<Courier> {
  const city = await findOrCreateCity(tx, input.city);
  const row = await tx.query<Courier>(
    `insert into platform.couriers (city_id, name) values ($1, $2)
     returning id, name, $3::text as city, city_id as "cityId", created_at as "createdAt"`,
    [city.id, input.name, city.name],
  );
  return row.rows[0] as Courier;
}
