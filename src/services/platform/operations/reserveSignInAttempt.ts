import type { Tx } from '../../../platform/db/index.ts';
import { TooManyAttemptsError } from './errors.ts';
import { lockSignInAddress } from './lockSignInAddress.ts';
import { signInAttemptHash } from './signInAttemptHash.ts';

/** The system actor that signs customers in: the only one that reads their password hashes by e-mail and writes attempts (sign-up's duplicate pre-check reads as it too, `isCustomerEmailTaken`). */
export const SIGN_IN_ACTOR = { kind: 'system', id: 'customer-sign-in' } as const;

/**
 * How many failed sign-ins an e-mail address may have within the window before the next attempt is
 * refused (429) without its password being checked: 5 within 15 minutes (decision 0007).
 */
export const SIGN_IN_LIMIT = Object.freeze({ failures: 5, windowSeconds: 15 * 60 });

/**
 * Whose failures an attempt counts against (decision 0007): an e-mail address, at the anonymous
 * sign-in; or a customer, when a caller holding that customer's token confirms their current password
 * (`confirmCurrentPassword`: a password change, the card on file, the erasure). Two buckets, so that
 * an anonymous guesser who holds an address cannot lock its owner out of rotating their password,
 * while a thief with a token still gets {@link SIGN_IN_LIMIT}`.failures` guesses a window there.
 */
export type AttemptBucket = { readonly email: string } | { readonly customerId: string };

/**
 * The name a bucket is locked ({@link lockSignInAddress}) and hashed ({@link signInAttemptHash}) by: the
 * address, or `current-password:<customer id>`, which no address is (an address has an `@`).
 */
export function attemptBucketName(bucket: AttemptBucket): string {
  return 'email' in bucket ? bucket.email : `current-password:${bucket.customerId}`;
}

/**
 * Reserves an attempt of `bucket` in a transaction of {@link SIGN_IN_ACTOR}: unless the bucket had
 * {@link SIGN_IN_LIMIT}`.failures` failures within the window, writes an attempt row, which counts
 * as a failure until {@link releaseSignInAttempt} deletes it (when the password matched). Written
 * before the password is checked, so that concurrent guesses, in this process or another, cannot pass
 * the limit between their check and their count, and an attempt whose process dies counts as failed.
 *
 * The bucket's name is kept as its HMAC under `key`, derived from the server secret ({@link signInAttemptHash}:
 * the address alone finds nothing), of its form folded by PostgreSQL's `lower`, as sign-up stores it.
 * The limiter tells nothing of whether a customer has the address: an unknown one is counted and held
 * exactly as a customer's (sign-up's 409 does tell, decision 0007). Attempts older than the window are
 * deleted by the worker `platform/sign-in-attempts-retention` ({@link pruneSignInAttempts}), and an
 * erased customer's at once ({@link forgetSignInAttempts}).
 *
 * @param key - the sign-in attempts' key: `deps.deriveKey(SIGN_IN_ATTEMPTS_KEY)`.
 * @returns the attempt's id, for {@link releaseSignInAttempt}.
 * @throws {TooManyAttemptsError} 429 (saying which bucket): held; `retryAfterSeconds` is when the limit's oldest failure in
 *   the window leaves it. Nothing is written then.
 */
export async function reserveSignInAttempt(tx: Tx, key: Buffer, bucket: AttemptBucket): Promise<string> {
  const { failures, windowSeconds } = SIGN_IN_LIMIT;
  // One reservation at a time per bucket, across processes: the count below then sees every attempt
  // committed before.
  const hash = signInAttemptHash(key, await lockSignInAddress(tx, attemptBucketName(bucket)));
  // The failures-th most recent failure in the window: while there is one, the address is held until it
  // leaves the window.
  const { rows: held } = await tx.query<{ retry_after: number }>(
    `select extract(epoch from at + make_interval(secs => $2) - now())::float8 as retry_after
       from platform.customer_sign_in_attempts where email_hash = $1 and at > now() - make_interval(secs => $2)
      order by at desc offset $3 - 1 limit 1`,
    [hash, windowSeconds, failures],
  );
  if (held[0] !== undefined) throw new TooManyAttemptsError(failures, windowSeconds, Math.max(1, Math.ceil(held[0].retry_after)), 'email' in bucket ? 'sign-in' : 'current-password');
  const { rows } = await tx.query<{ id: string }>('insert into platform.customer_sign_in_attempts (email_hash) values ($1) returning id', [hash]);
  return rows[0]!.id;
}
