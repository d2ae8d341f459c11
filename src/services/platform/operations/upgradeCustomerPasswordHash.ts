import type { Tx } from '../../../platform/db/index.ts';

/**
 * Replaces a customer's hash by one of the same password under the current scrypt parameters (at
 * sign-in, `passwordNeedsRehash`), provided it is still `expected`: a change the customer made
 * meanwhile wins. The credentials version stays as it is: the password is the same, so no token is
 * revoked (unlike {@link setCustomerPassword}). The transaction acts as the customer.
 * Answers whether it wrote.
 */
export async function upgradeCustomerPasswordHash(tx: Tx, customerId: string, passwordHash: string, expected: string): Promise<boolean> {
  const { rowCount } = await tx.query('update platform.customers set password_hash = $2 where id = $1 and password_hash = $3', [customerId, passwordHash, expected]);
  return rowCount === 1;
}
