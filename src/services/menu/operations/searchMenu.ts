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
 * Full-text search (PostgreSQL `websearch_to_tsquery`, 'simple' dictionary: menus mix languages)
 * over the live items of the given restaurants; deleted items never match (the live view filters
 * them, and the GIN index only holds live rows).
 */
export async function searchMenu(tx: Tx, restaurantIds: readonly string[], query: string, limit = 50): Promise<SearchHit[]> {
  if (restaurantIds.length === 0) return [];
  const rows = await tx.query<SearchHit>(
    `select i.tenant_id as "restaurantId", i.id as "itemId", i.name, i.description, i.price, i.sold_out as "soldOut",
            ts_rank(i.search, q) as rank
       from menu.live_items i, websearch_to_tsquery('simple', $2) q
      where i.tenant_id = any($1::uuid[]) and i.search @@ q
      order by rank desc, i.name
      limit $3`,
    [restaurantIds, query, limit],
  );
  return rows.rows;
}
