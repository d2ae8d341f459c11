import type { Tx } from '../../../platform/db/index.ts';

/**
 * The credentials version of a customer (decision 0007, "a credential change revokes earlier customer
 * tokens"), which a customer token signed now must carry; 0 for an id that is no customer the
 * transaction may see (a token of an id that never signed up, as `brigade token` may mint, is checked
 * against no version). `mintToken` reads it as the customer themselves (the `customer_self` policy).
 */
export async function readCredentialsVersion(tx: Tx, customerId: string): Promise<number> {
  const { rows } = await tx.query<{ v: number }>('select credentials_version as v from platform.customers where id = $1', [customerId]);
  return rows[0]?.v ?? 0;
}
