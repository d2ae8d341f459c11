import type { Tx } from '../../../platform/db/index.ts';
import { pickupAddressOf } from '../newRestaurant.ts';
import type { Restaurant } from './createRestaurant.ts';

/**
 * Sets (or, with `null`, clears) where couriers pick the restaurant's orders up, kept NFC
 * (`pickupAddressOf`); changes nothing else of it. Couriers see the new address at their next read
 * of their tasks, also for orders placed before (ordering asks the directory as it answers).
 * Admin only (RLS): a staff member's change runs as the directory after the route checked their restaurant.
 *
 * @returns the restaurant as changed, or `null` when the directory does not know `id`.
 */
export async function setPickupAddress(tx: Tx, id: string, address: string | null): Promise<Restaurant | null> {
  const row = await tx.query<Restaurant>(
    `update platform.restaurants r set pickup_address = $2
       from platform.cities c
      where r.id = $1 and c.id = r.city_id
      returning r.id, r.name, c.name as city, c.id as "cityId", r.currency, r.pickup_address as "pickupAddress", r.created_at as "createdAt"`,
    [id, address === null ? null : pickupAddressOf(address)],
  );
  return row.rows[0] ?? null;
}
