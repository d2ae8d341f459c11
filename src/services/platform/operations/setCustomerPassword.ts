import type { Tx } from '../../../platform/db/index.ts';

/**
 * Replaces the password hash of the customer the transaction acts as (RLS lets a customer write only
 * their own row), provided it is still `expected` (null: none set): a compare-and-set, so a change
 * checked against one password does not overwrite another that a concurrent change set meanwhile.
 * Answers whether it wrote: false when the hash changed meanwhile or the customer is gone.
 */
export async function setCustomerPassword(tx: Tx, customerId: string, passwordHash: string, expected: string | null): Promise<boolean> {
  const { rowCount } = await tx.query('update platform.customers set password_hash = $2 where id = $1 and password_hash is not distinct from $3', [customerId, passwordHash, expected]);
  return rowCount === 1;
}
