import type { Tx } from '../../../platform/db/index.ts';

/**
 * Deletes an attempt {@link reserveSignInAttempt} wrote, once its password matched: a success does not
 * count as a failure. The address's earlier failures stay, and hold it for the rest of their window
 * (decision 0007). Runs in a transaction of `SIGN_IN_ACTOR`.
 */
export async function releaseSignInAttempt(tx: Tx, attemptId: string): Promise<void> {
  await tx.query('delete from platform.customer_sign_in_attempts where id = $1', [attemptId]);
}
