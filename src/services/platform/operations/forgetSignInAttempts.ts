import type { Tx } from '../../../platform/db/index.ts';
import { lockSignInAddress } from './lockSignInAddress.ts';
import { attemptBucketName, type AttemptBucket } from './reserveSignInAttempt.ts';
import { signInAttemptHash } from './signInAttemptHash.ts';

/**
 * Deletes every sign-in attempt of `email`, an erased customer's address (decision 0090), and of the
 * customer's own bucket of wrong current passwords ({@link AttemptBucket}): their failures go with them,
 * and the address, signed up again, is not held by them. Runs in the erasure's transaction as its system
 * actor `customer-erasure` (platform migration 0035's `erasure_forgets`), with the address its customer
 * row had. It first takes each bucket's lock ({@link lockSignInAddress}), so a sign-in of the address in
 * flight, whose attempt is not committed yet, is waited for and deleted too. No address when the
 * customer had no row (`undefined`: a customer token of an id that never signed up).
 *
 * @param key - the sign-in attempts' key ({@link signInAttemptHash}).
 * @returns how many attempts were deleted.
 */
export async function forgetSignInAttempts(tx: Tx, key: Buffer, customerId: string, email: string | undefined): Promise<number> {
  const buckets: AttemptBucket[] = email === undefined ? [{ customerId }] : [{ email }, { customerId }];
  let deleted = 0;
  for (const bucket of buckets) {
    const hash = signInAttemptHash(key, await lockSignInAddress(tx, attemptBucketName(bucket)));
    const { rowCount } = await tx.query('delete from platform.customer_sign_in_attempts where email_hash = $1', [hash]);
    deleted += rowCount ?? 0;
  }
  return deleted;
}
