import { createHmac } from 'node:crypto';
import type { SubjectKey } from './sealFields.ts';

/**
 * A digest of `text` that the subject's erasure shreds: HMAC-SHA-256 under a key derived from the
 * subject's data key for `purpose` (HKDF-SHA-256's expand step, RFC 5869, `brigade: <purpose>` as its
 * `info`; the extract step is skipped as the RFC allows, the data key being 32 random bytes already).
 * The data key keys only that derivation here (an HMAC, beside its AES-GCM sealing); the digests are
 * made under the derived key, so one purpose's digests tell nothing of another's, nor of the sealed
 * values. The same subject, purpose and text give the same digest: it stands where a plain hash of
 * personal data would (to recognise a request seen before). Without the key a guess of the text cannot
 * be tested against it, and once erasure has destroyed the key nobody can test one (decision 0090).
 *
 * @example
 * const hash = subjectDigest(await keys.keyFor(customerId), 'ordering placement request', canonicalJson(body));
 */
export function subjectDigest(subject: SubjectKey, purpose: string, text: string): Buffer {
  // The expand step alone is sound only for a key that is already uniformly random and long enough.
  if (subject.key.length !== 32) throw new Error(`subjectDigest: a data key of 32 bytes expected, got ${subject.key.length}`);
  // HKDF-Expand for one 32-byte block: T(1) = HMAC(PRK, info ‖ 0x01). hkdfSync, with its extract step,
  // cost this process about four times the HMAC of a placement's body (7 Dec, a loaded machine).
  const key = createHmac('sha256', subject.key).update(`brigade: ${purpose}`, 'utf8').update(Buffer.of(1)).digest();
  return createHmac('sha256', key).update(text, 'utf8').digest();
}
