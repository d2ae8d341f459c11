import type { Tx } from '../../../platform/db/index.ts';

/**
 * Replaces the password hash of the customer the transaction acts as (RLS lets a customer write only
 * their own row), provided it is still `expected` (null: none set): a compare-and-set, so a change
 * checked against one password does not overwrite another that a concurrent change set meanwhile.
 * The same statement adds one to the customer's credentials version, which refuses every customer
 * token signed before (decision 0007, "a credential change revokes earlier customer tokens"); the
 * first password too, since every credential change revokes.
 *
 * Answers the new credentials version, for the caller's fresh token; null when nothing was written
 * (the hash changed meanwhile, or the customer is gone).
 */
export async function setCustomerPassword(tx: Tx, customerId: string, passwordHash: string, expected: string | null): Promise<number | null> {
  const { rows } = await tx.query<{ credentialsVersion: number }>(
    `update platform.customers set password_hash = $2, credentials_version = credentials_version + 1
      where id = $1 and password_hash is not distinct from $3
      returning credentials_version as "credentialsVersion"`,
    [customerId, passwordHash, expected],
  );
  return rows[0]?.credentialsVersion ?? null;
}
