import type { Tx } from '../../../platform/db/index.ts';

/** A search hit: an item of one of the restaurants searched. */
export interface SearchHit {
  restaurantId: string;
  itemId: string;
  name: string;
  description: string;
  price: number;
  soldOut: boolean;
  rank: number;
}

/**
 * A hit's place in the search order (rank, best first; then name by code point; then item id), as a
 * page cursor carries it. `rank` is the float4 that `ts_rank` gave, as PostgreSQL writes it: its
 * shortest text reads back as the same float4 (`$n::real`), where a JS number taken from it may not.
 */
export interface SearchPosition {
  readonly rank: string;
  readonly name: string;
  readonly itemId: string;
}

/** A hit with its place in the search order. */
export interface FoundHit {
  readonly hit: SearchHit;
  readonly position: SearchPosition;
}

/**
 * The statement of {@link searchMenu}: `$1` the restaurants (uuid[]), `$2` the query text, `$3` the
 * limit; then the position to start after, or nulls for the first page: `$4` its rank (as text),
 * `$5` its name, `$6` its item id.
 *
 * Words match with accents and case folded on both sides (`creme` finds "Crème brûlée", `café` finds
 * "Cafe"): the stored vector `menu.items.search` and the query are both of the configuration
 * menu.search_simple, `simple` behind `unaccent` (menu migration 0011, decision 0093). The restaurants'
 * key (an index on tenant_id) finds the candidate items: under row-level security `@@` is not
 * leakproof, so no full-text index can be an index condition here.
 *
 * The order is total (the item id last), so a page starts exactly after the hit its cursor names.
 * Names compare in the C collation (code points), whatever the database's default collation, as
 * the merge across databases compares them. The rank is compared as the float4 it is: the cursor's
 * text cast back to real is that float4 exactly, so a page boundary in a tie on rank neither skips
 * nor repeats a hit. It leaves as float8 (which holds every float4 exactly): its text has at least 15
 * significant digits whatever `extra_float_digits` says, enough to tell any two float4s apart here
 * and in the merge, where a float4's text at `extra_float_digits = 0` (6 digits) would not.
 */
export const SEARCH_MENU_SQL = `select h.tenant_id as "restaurantId", h.id as "itemId", h.name, h.description, h.price, h.sold_out as "soldOut",
       h.rank::float8 as rank, h.rank::float8::text as "rankText"
  from (select i.*, ts_rank(i.search, q) as rank
          from menu.live_items i, websearch_to_tsquery('menu.search_simple', $2) q
         where i.tenant_id = any($1::uuid[]) and i.search @@ q) h
 where $4::real is null
    or h.rank < $4::real
    or (h.rank = $4::real and (h.name collate "C" > $5 or (h.name collate "C" = $5 and h.id > $6::uuid)))
 order by h.rank desc, h.name collate "C", h.id
 limit $3`;

/**
 * Full-text search (PostgreSQL `websearch_to_tsquery`; no stemming, as the 'simple' dictionary: menus
 * mix languages; accents and case ignored) over the live items of the given restaurants; deleted
 * items never match (the live view filters them). The first `limit` hits in the search order
 * ({@link bySearchOrder}), after `after` when given (a page's last hit: keyset paging).
 *
 * @example
 * // One more than a page: whether there is a page after it.
 * const found = await searchMenu(tx, ids, 'pizza', 51, cursor);
 */
export async function searchMenu(tx: Tx, restaurantIds: readonly string[], query: string, limit: number, after?: SearchPosition): Promise<FoundHit[]> {
  if (restaurantIds.length === 0) return [];
  const rows = await tx.query<SearchHit & { rankText: string }>(SEARCH_MENU_SQL, [restaurantIds, query, limit, after?.rank ?? null, after?.name ?? null, after?.itemId ?? null]);
  return rows.rows.map(({ rankText, ...hit }) => ({ hit, position: { rank: rankText, name: hit.name, itemId: hit.itemId } }));
}

/**
 * The search order as {@link searchMenu}'s ORDER BY gives it, over hits of several databases: rank,
 * best first; then name by code point (the C collation's order, which UTF-16 `<` is not past U+FFFF:
 * '🍕' would sort before 'Ａ'); then item id (uuids sort as their lower-case text).
 */
export function bySearchOrder(a: FoundHit, b: FoundHit): number {
  return b.hit.rank - a.hit.rank || byCodePoint(a.hit.name, b.hit.name) || (a.hit.itemId < b.hit.itemId ? -1 : a.hit.itemId > b.hit.itemId ? 1 : 0);
}

/**
 * Compares two strings by code point. UTF-16 units compare as code points except that surrogates
 * (U+D800–U+DFFF, halves of code points past U+FFFF) must sort after U+E000–U+FFFF.
 */
function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codeUnitWeight(x) - codeUnitWeight(y);
  }
  return a.length - b.length;
}

const codeUnitWeight = (unit: number) => (unit >= 0xd800 && unit <= 0xdfff ? unit + 0x2000 : unit >= 0xe000 ? unit - 0x800 : unit);
