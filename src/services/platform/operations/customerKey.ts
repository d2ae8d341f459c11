import type { Tx } from '../../../platform/db/index.ts';
import { newDataKey } from '../../../platform/temporal/index.ts';

/** A customer's data key, or `null` once the customer was erased (decision 0090). */
export type CustomerKeyRow = { readonly key: Buffer } | { readonly key: null };

/**
 * The customer's data key, made on first use. `{ key: null }` for an erased customer. The transaction
 * acts as a system actor (the table's policies).
 */
export async function customerKey(tx: Tx, customerId: string): Promise<CustomerKeyRow> {
  const { rows } = await tx.query<{ key: Buffer | null }>(
    `with made as (
       insert into platform.customer_keys (customer_id, key) values ($1, $2)
       on conflict (customer_id) do nothing
       returning key)
     select key from made
     union all
     select key from platform.customer_keys where customer_id = $1 and not exists (select 1 from made)`,
    [customerId, newDataKey()],
  );
  if (rows.length > 0) return { key: rows[0]!.key };
  // The insert lost to a concurrent one that committed while it waited: the statement's snapshot, taken
  // before, does not show that row; a new statement does.
  const again = await tx.query<{ key: Buffer | null }>('select key from platform.customer_keys where customer_id = $1', [customerId]);
  if (again.rows.length === 0) throw new Error(`the data key of customer ${customerId} was neither made nor found`);
  return { key: again.rows[0]!.key };
}

/** The data keys of the given customers that still have one (the erased and the unknown are missing). */
export async function readCustomerKeys(tx: Tx, customerIds: readonly string[]): Promise<Map<string, Buffer>> {
  const { rows } = await tx.query<{ customer_id: string; key: Buffer }>(
    'select customer_id, key from platform.customer_keys where customer_id = any($1::uuid[]) and key is not null',
    [customerIds],
  );
  return new Map(rows.map((r) => [r.customer_id, r.key]));
}
