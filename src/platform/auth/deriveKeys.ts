import { hkdfSync } from 'node:crypto';

/**
 * A key of its own for each purpose, derived from the server secret (`BRIGADE_SECRET`, or the one
 * generated under `BRIGADE_HOME`: `loadOrCreateSecret`) with HKDF-SHA-256, the purpose as HKDF's `info`.
 * For values kept in the database that must not be recomputable from what they are made of alone, such
 * as a keyed hash (HMAC) of an e-mail address: an operator with the database but not the secret cannot
 * test an address against them. A key for one purpose tells nothing of another's, nor of the secret
 * itself, which keeps signing tokens as it is.
 *
 * Rotating the secret changes every derived key: what was stored under the old one no longer matches.
 *
 * @param secret - the token-signing secret.
 * @returns `deriveKey(purpose)`: 32 bytes, the same for the same secret and purpose in every process.
 * @example
 * const deriveKey = deriveKeys(secret);
 * const key = deriveKey('customer sign-in attempts');
 */
export function deriveKeys(secret: string): (purpose: string) => Buffer {
  return (purpose) => Buffer.from(hkdfSync('sha256', secret, Buffer.alloc(0), `brigade: ${purpose}`, 32));
}
