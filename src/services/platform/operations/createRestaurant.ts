import type { Tx } from '../../../platform/db/index.ts';
import { mapPlatformError } from './errors.ts';
import { type City, findOrCreateCity } from './findOrCreateCity.ts';
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
  /** Counts its changes (1 when made): its ETag, and the If-Match of `PATCH /v1/restaurants/{rid}`. */
  version: number;
}

/** A restaurant with who set or cleared its pick-up address last and when (null until then): for its admins and staff, not the public directory. */
export interface RestaurantWithChanges extends Restaurant {
  /** The token's role and subject (`staff:<id>`, `admin:<subject>`). */
  pickupAddressChangedBy: string | null;
  pickupAddressChangedAt: string | null;
}

/**
 * Creates a restaurant in a city, creating the city on first use (matched whatever its case, see {@link findOrCreateCity}),
 * with its pick-up address when given (kept NFC, `pickupAddressOf`). Admin only (RLS enforces it).
 * The name is kept in composed form ({@link restaurantName}), so a name that exists in the city in another Unicode form is refused too.
 *
 * @throws {AlreadyExistsError} 409 on `name`: the city has a restaurant of that name; its message names the city as the directory spells it and how to find the restaurant's id.
 */
export async function createRestaurant(tx: Tx, input: { name: string; city: string; currency?: string | undefined; pickupAddress?: string | undefined }): Promise<Restaurant> {
  const name = restaurantName(input.name);
  let city: City | undefined;
  try {
    city = await findOrCreateCity(tx, input.city);
    const row = await tx.query<Restaurant>(
      `insert into platform.restaurants (city_id, name, currency, pickup_address) values ($1, $2, $3, $5)
       returning id, name, $4::text as city, city_id as "cityId", currency, pickup_address as "pickupAddress", created_at as "createdAt", version`,
      [city.id, name, input.currency ?? 'EUR', city.name, input.pickupAddress === undefined ? null : pickupAddressOf(input.pickupAddress)],
    );
    return row.rows[0] as Restaurant;
  } catch (error) {
    const spelled = city?.name ?? input.city;
    mapPlatformError(error, {
      unique: [`A restaurant named ${name} in ${spelled}`, 'name', `brigade tenants list --city ${shellWord(spelled)} (or GET /v1/restaurants?city=${encodeURIComponent(spelled)}) shows its id`],
    });
  }
}

/**
 * A restaurant's name as the directory keeps and compares it: in Unicode's composed form (NFC), as a
 * city's (`cityName`). "Café" typed with one code point for the é and pasted with an e and a
 * combining accent (NFD) read the same, and were two restaurants of one city that the unique (city,
 * name) let through. Restaurants made before this in decomposed form stay as they are.
 */
export function restaurantName(name: string): string {
  return name.normalize('NFC');
}

/** `text` as one word of a shell command: as it is when that is safe to paste, else in single quotes. */
function shellWord(text: string): string {
  return /^[\p{L}\p{N}_.,:@%+=/-]+$/u.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}
