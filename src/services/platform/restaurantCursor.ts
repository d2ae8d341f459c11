import { isUuid } from '../../platform/ids/index.ts';
import type { RestaurantPosition } from './operations/listRestaurants.ts';

/** A text the directory could hold: a city's or restaurant's name (at most 200 code points, no U+0000). */
const isName = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && [...value].length <= 200 && !value.includes('\u0000');

/**
 * The `next` of a page of `GET /v1/restaurants`: its last restaurant's position, for the list of
 * `scope` (the city asked for, lower-cased, or `''` for every city), as base64url JSON.
 */
export function encodeRestaurantCursor(position: RestaurantPosition, scope: string): string {
  return Buffer.from(JSON.stringify(['restaurants', scope, position.city, position.name, position.id])).toString('base64url');
}

/**
 * The position {@link encodeRestaurantCursor} wrote for `scope`, or null when `text` is not one (not
 * base64url JSON of that shape, names the directory could not hold, an id that is no UUID, or the
 * cursor of another city's list).
 */
export function decodeRestaurantCursor(text: string, scope: string): RestaurantPosition | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (!Array.isArray(value) || value.length !== 5) return null;
    const [kind, cursorScope, city, name, id] = value as unknown[];
    if (kind !== 'restaurants' || cursorScope !== scope || !isName(city) || !isName(name) || typeof id !== 'string' || !isUuid(id)) return null;
    return { city, name, id: id.toLowerCase() };
  } catch {
    return null;
  }
}
