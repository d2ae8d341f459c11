import { createHmac } from 'node:crypto';

/** The purpose the sign-in attempts' key is derived for, from the server secret (`ServiceDeps.deriveKey`). */
export const SIGN_IN_ATTEMPTS_KEY = 'customer sign-in attempts';

/**
 * What a sign-in attempt row keeps of its e-mail address (`email_hash`, platform migration 0035): the
 * HMAC-SHA-256 under `key` (derived for {@link SIGN_IN_ATTEMPTS_KEY}) of the address as PostgreSQL's
 * `lower` folds it, as sign-up stores it ({@link lockSignInAddress} answers it so). Without the key the
 * address alone finds nothing; with another key (a rotated secret) nothing either (decision 0007).
 *
 * @example
 * const hash = signInAttemptHash(deps.deriveKey(SIGN_IN_ATTEMPTS_KEY), await lockSignInAddress(tx, email));
 */
export function signInAttemptHash(key: Buffer, foldedEmail: string): Buffer {
  return createHmac('sha256', key).update(foldedEmail, 'utf8').digest();
}
