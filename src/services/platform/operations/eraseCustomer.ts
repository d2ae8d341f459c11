import type { Tx } from '../../../platform/db/index.ts';

/**
 * Erases a customer (decision 0090): deletes their row (their card on file goes with it) and destroys
 * their data key, leaving its tombstone, so every value sealed under it (delivery addresses in the order
 * log, the outbox, the broker and the views) reads as `null` from now on. Runs as the customer or an
 * admin. Answers whether there was anything to erase: a customer row, or a live key (an erased customer
 * or an id never seen answers `false`).
 */
export async function eraseCustomer(tx: Tx, customerId: string): Promise<boolean> {
  const { rows } = await tx.query<{ customer: boolean; key: boolean }>(
    `with gone as (delete from platform.customers where id = $1 returning id),
          shredded as (
            insert into platform.customer_keys as k (customer_id, key, erased_at) values ($1, null, now())
            on conflict (customer_id) do update set key = null, erased_at = now() where k.erased_at is null
            returning (xmax <> 0) as had_key)
     select exists (select 1 from gone) as customer, coalesce((select had_key from shredded), false) as key`,
    [customerId],
  );
  return rows[0]!.customer || rows[0]!.key;
}
