import { encodePageCursor, isCursorName, pageCursorParts } from '../../api/index.ts';
import { isUuid } from '../../platform/ids/index.ts';
import type { RestaurantPosition } from './operations/listRestaurants.ts';

/** What the directory holds of a city's or a restaurant's name, in code points (`NameText(200)`). */
const NAME_MAX = 200;

/**
 * The `next` of a page of `GET /v1/restaurants`: its last restaurant's position, for the list of
 * `scope` (the city asked for, lower-cased, or `''` for every city).
 */
export function encodeRestaurantCursor(position: RestaurantPosition, scope: string): string {
  return encodePageCursor(['restaurants', scope, position.city, position.name, position.id]);
}

/**
 * The position {@link encodeRestaurantCursor} wrote for `scope`, or null when `text` is not one (not
 * base64url JSON of that shape, names the directory could not hold, an id that is no UUID, or the
 * cursor of another city's list).
 */
export function decodeRestaurantCursor(text: string, scope: string): RestaurantPosition | null {
  const parts = pageCursorParts(text, 5);
  if (parts === null) return null;
  const [kind, cursorScope, city, name, id] = parts;
  if (kind !== 'restaurants' || cursorScope !== scope || !isCursorName(city, NAME_MAX) || !isCursorName(name, NAME_MAX) || typeof id !== 'string' || !isUuid(id)) return null;
  return { city, name, id: id.toLowerCase() };
}
