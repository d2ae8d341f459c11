import type { Tx } from '../../../platform/db/index.ts';
import { ConcurrencyError } from '../../../platform/errors/index.ts';
import { pickupAddressOf } from '../newRestaurant.ts';
import type { RestaurantWithChanges } from './createRestaurant.ts';

/** What {@link setPickupAddress} sets, and on what it was decided. */
export interface PickupAddressChange {
  /** The new address, or `null` to clear it. */
  readonly address: string | null;
  /** The version the caller read (If-Match): a restaurant at another one is not changed (412). */
  readonly expectedVersion: number;
  /** Who changes it, as the row keeps it (`staff:<id>`, `admin:<subject>`): the caller, also when the transaction runs as the directory. */
  readonly changedBy: string;
}

/**
 * Sets (or, with `null`, clears) where couriers pick the restaurant's orders up, kept NFC
 * (`pickupAddressOf`), when the restaurant is still at `expectedVersion`; bumps its version and records
 * who changed the address and when; changes nothing else of it. Couriers see the new address at their
 * next read of their tasks, also for orders placed before (ordering asks the directory as it answers).
 * Admin only (RLS): a staff member's change runs as the directory after the route checked their
 * restaurant, and `changedBy` names them.
 *
 * @returns the restaurant as changed, or `null` when the directory does not know `id`.
 * @throws {ConcurrencyError} 412 when the restaurant is at another version (its current one in `details.currentVersion`).
 */
export async function setPickupAddress(tx: Tx, id: string, change: PickupAddressChange): Promise<RestaurantWithChanges | null> {
  const row = await tx.query<RestaurantWithChanges>(
    `update platform.restaurants r
        set pickup_address = $2, version = r.version + 1, pickup_address_changed_by = $4, pickup_address_changed_at = now()
       from platform.cities c
      where r.id = $1 and r.version = $3 and c.id = r.city_id
      returning r.id, r.name, c.name as city, c.id as "cityId", r.currency, r.pickup_address as "pickupAddress", r.created_at as "createdAt", r.version,
                r.pickup_address_changed_by as "pickupAddressChangedBy", r.pickup_address_changed_at as "pickupAddressChangedAt"`,
    [id, change.address === null ? null : pickupAddressOf(change.address), change.expectedVersion, change.changedBy],
  );
  if (row.rows[0] !== undefined) return row.rows[0];
  // Nothing updated: an unknown restaurant, or one changed since the caller read it.
  const current = await tx.query<{ version: number }>(`select version from platform.restaurants where id = $1`, [id]);
  const version = current.rows[0]?.version;
  if (version === undefined) return null;
  throw new ConcurrencyError(
    change.expectedVersion,
    version,
    `The restaurant changed since you read it (you have version ${change.expectedVersion}, it is at ${version}): read it again (GET /v1/restaurants/${id}), then send your change with If-Match: "${version}" if it still applies`,
    { currentVersion: version },
  );
}
