import type { Tx } from '../../../platform/db/index.ts';

/** One version of an item, with the instant range it was current. */
export interface ItemVersion {
  version: number;
  name: string;
  price: number;
  soldOut: boolean;
  deleted: boolean;
  validFrom: string;
  validTo: string | null;
}

/** Every version of an item, oldest first (soft-deleted items included). */
export async function itemHistory(tx: Tx, tenantId: string, itemId: string): Promise<ItemVersion[]> {
  const rows = await tx.query<ItemVersion>(
    `select version, data->>'name' as name, (data->>'price')::int as price, (data->>'sold_out')::boolean as "soldOut",
            data->>'deleted_at' is not null as deleted, valid_from as "validFrom",
            case when valid_to = 'infinity' then null else valid_to end as "validTo"
       from menu.history where tenant_id = $1 and entity = 'item' and id = $2 order by version`,
    [tenantId, itemId],
  );
  return rows.rows;
}
