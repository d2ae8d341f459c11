import { createHash } from 'node:crypto';
import { encodePageCursor, isCursorName, pageCursorParts } from '../../../api/index.ts';
import { isUuid } from '../../../platform/ids/index.ts';
import type { SearchPosition } from './searchMenu.ts';

/**
 * The search a cursor belongs to: a digest of its `q` and `city`, so that a cursor sent with another
 * search is refused rather than read as a place in it.
 */
export function searchScope(query: string, city: string): string {
  return createHash('sha256').update(JSON.stringify([query, city])).digest('base64url').slice(0, 16);
}

/**
 * The cursor a client sends back as `before` to read the hits after `position` in the search `scope`
 * (opaque: base64url JSON, as the order views' cursors are).
 *
 * @example
 * const next = encodeSearchCursor(page.at(-1)!.position, searchScope(q, city));
 */
export function encodeSearchCursor(position: SearchPosition, scope: string): string {
  return encodePageCursor(['search', scope, position.rank, position.name, position.itemId]);
}

/** A rank as PostgreSQL writes a float4 (`0.06079271`, `1e-05`): digits only, no NaN or Infinity. */
const RANK = /^(\d{1,20}(\.\d{1,20})?|\.\d{1,20})(e[+-]?\d{1,3})?$/i;
/** Bounds within which `$n::real` takes a rank without an out-of-range error (zero aside). */
const REAL_MIN = 1.2e-38;
const REAL_MAX = 3.4e38;
/** What the items table holds (`check (length(name) between 1 and 200)`, counted in code points). */
const NAME_MAX = 200;

/**
 * The position {@link encodeSearchCursor} wrote for the search `scope`, or null when `text` is not
 * one: not base64url JSON of that shape, a rank PostgreSQL would not take as a real, a name the items
 * table could not hold (or one PostgreSQL text refuses: U+0000, half a surrogate pair), an item id that
 * is no uuid, or another search's cursor (another `q` or `city`, or another list's cursor).
 */
export function decodeSearchCursor(text: string, scope: string): SearchPosition | null {
  const parts = pageCursorParts(text, 5);
  if (parts === null) return null;
  const [kind, cursorScope, rank, name, itemId] = parts;
  if (kind !== 'search' || cursorScope !== scope) return null;
  if (typeof rank !== 'string' || !RANK.test(rank)) return null;
  const magnitude = Number(rank);
  if (!(magnitude === 0 || (magnitude >= REAL_MIN && magnitude <= REAL_MAX))) return null;
  if (!isCursorName(name, NAME_MAX)) return null;
  if (typeof itemId !== 'string' || !isUuid(itemId)) return null;
  return { rank, name, itemId: itemId.toLowerCase() };
}
