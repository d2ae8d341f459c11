import type { Tx } from '../../../platform/db/index.ts';
import { lockSignInAddress } from './lockSignInAddress.ts';
import { signInAttemptHash } from './signInAttemptHash.ts';

/**
 * Deletes every sign-in attempt of `email`, an erased customer's address (decision 0090): their failed
 * sign-ins go with them, and the address, signed up again, is not held by them. Runs in the erasure's
 * transaction as its system actor `customer-erasure` (platform migration 0035's `erasure_forgets`), with
 * the address its customer row had. It first takes the address's lock ({@link lockSignInAddress}), so a
 * sign-in of the address in flight, whose attempt is not committed yet, is waited for and deleted too.
 * Nothing when the customer had no row (`undefined`: a customer token of an id that never signed up).
 *
 * @param key - the sign-in attempts' key ({@link signInAttemptHash}).
 * @returns how many attempts were deleted.
 */
export async function forgetSignInAttempts(tx: Tx, key: Buffer, email: string | undefined): Promise<number> {
  if (email === undefined) return 0;
  const hash = signInAttemptHash(key, await lockSignInAddress(tx, email));
  const { rowCount } = await tx.query('delete from platform.customer_sign_in_attempts where email_hash = $1', [hash]);
  return rowCount ?? 0;
}
