import type { Tx } from '../../../platform/db/index.ts';

/**
 * Whether a customer has `email` (matched as sign-up stores it, `lower`), read before sign-up hashes a
 * password: a sign-up with an address that is taken is refused (409) without the tenth of a second of
 * scrypt it would otherwise cost the thread pool, on a route open to anyone (decision 0007). Only a
 * cheap pre-check: the unique constraint still decides two sign-ups of one address at once.
 *
 * Runs in a read-only transaction of the sign-in actor (`SIGN_IN_ACTOR`), the one that may read
 * customers by e-mail (platform migration 0027's `sign_in_read`). It tells no more than the 409 does.
 */
export async function isCustomerEmailTaken(tx: Tx, email: string): Promise<boolean> {
  const { rows } = await tx.query<{ taken: boolean }>('select exists (select 1 from platform.customers where email = lower($1)) as taken', [email]);
  return rows[0]?.taken === true;
}
