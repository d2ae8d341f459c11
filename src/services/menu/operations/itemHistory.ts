import type { Tx } from '../../../platform/db/index.ts';
import { instantText } from './instantText.ts';

/** One version of an item, with the instant range it was current. */
export interface ItemVersion {
  version: number;
  name: string;
  price: number;
  soldOut: boolean;
  deleted: boolean;
  /** When this version became current: RFC 3339 in UTC, to the microsecond, as stored (`?asOf=` this reads this version). */
  validFrom: string;
  /** When the next version replaced it (same form), or null for the current version. */
  validTo: string | null;
}

/** Every version of an item, oldest first (soft-deleted items included). */
export async function itemHistory(tx: Tx, tenantId: string, itemId: string): Promise<ItemVersion[]> {
  const rows = await tx.query<ItemVersion>(
    `select version, data->>'name' as name, (data->>'price')::int as price, (data->>'sold_out')::boolean as "soldOut",
            data->>'deleted_at' is not null as deleted, ${instantText('valid_from')} as "validFrom",
            case when valid_to = 'infinity' then null else ${instantText('valid_to')} end as "validTo"
       from menu.history where tenant_id = $1 and entity = 'item' and id = $2 order by version`,
    [tenantId, itemId],
  );
  return rows.rows;
}
