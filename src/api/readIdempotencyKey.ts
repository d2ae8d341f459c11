/** What an `Idempotency-Key` header must be: 1 to 255 visible ASCII characters (U+0021–U+007E), so no spaces. */
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** {@link IDEMPOTENCY_KEY} as a client reads it, for the 400 that refuses a key. */
export const IDEMPOTENCY_KEY_RULE = '1 to 255 visible ASCII characters, no spaces (e.g. a UUID)';

/**
 * An `Idempotency-Key` header as it arrived: the key, or (`key: null`) what is wrong with it for the
 * 400 that refuses it to say: that none was sent, or which part of {@link IDEMPOTENCY_KEY_RULE} the one
 * sent breaks. Ordering and the payment provider both answer with it, so a client that sent a key is
 * told what is wrong with it, never to send one.
 *
 * @example
 * readIdempotencyKey(undefined) // { key: null, fault: 'No Idempotency-Key header was sent' }
 * readIdempotencyKey('a b')     // { key: null, fault: 'The Idempotency-Key header is not valid: it holds a space' }
 * readIdempotencyKey('k-1')     // { key: 'k-1', fault: null }
 */
export function readIdempotencyKey(header: string | readonly string[] | undefined): { key: string; fault: null } | { key: null; fault: string } {
  if (header === undefined) return { key: null, fault: 'No Idempotency-Key header was sent' };
  if (typeof header !== 'string') return { key: null, fault: 'The Idempotency-Key header is not valid: it was sent more than once' };
  if (IDEMPOTENCY_KEY.test(header)) return { key: header, fault: null };
  const why =
    header.length === 0
      ? 'it is empty'
      : header.length > 255
        ? `it has ${header.length} characters`
        : header.includes(' ')
          ? 'it holds a space'
          : 'it holds a character that is not visible ASCII (a tab, a control character or a non-ASCII letter)';
  return { key: null, fault: `The Idempotency-Key header is not valid: ${why}` };
}
