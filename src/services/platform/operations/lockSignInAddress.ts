import type { Tx } from '../../../platform/db/index.ts';

/**
 * Takes the transaction's advisory lock of an e-mail address's sign-in attempts (or of another bucket
 * of attempts, by its name: `attemptBucketName`), and answers the address as PostgreSQL's `lower` folds it (the form sign-up stores, and {@link signInAttemptHash}
 * hashes). One transaction at a time per address, across processes, counts or deletes its attempts:
 * a reservation ({@link reserveSignInAttempt}) and an erasure ({@link forgetSignInAttempts}). A statement
 * after this one sees every attempt committed before the lock was granted (READ COMMITTED takes a
 * snapshot per statement).
 *
 * The lock is keyed by `hashtext` of the folded address, 32 bits, held only while the transaction runs.
 */
export async function lockSignInAddress(tx: Tx, email: string): Promise<string> {
  const { rows } = await tx.query<{ folded: string }>(
    `select lower($1::text) as folded, pg_advisory_xact_lock(hashtext('brigade.customer_sign_in'), hashtext(lower($1::text)))`,
    [email],
  );
  return rows[0]!.folded;
}
