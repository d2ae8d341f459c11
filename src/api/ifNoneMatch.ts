/** One entity-tag of a list (RFC 9110 §8.8.3): `W/` when weak, then the quoted opaque tag. */
const ENTITY_TAG = /(?:W\/)?("[^"]*")/g;

/**
 * Whether a GET's `If-None-Match` matches `etag`, the current representation's, so that the answer is
 * 304: RFC 9110 §13.1.2, which compares weakly (`W/"menu-7"` matches `"menu-7"`), takes a list of
 * tags (any one of them matching), and `*` (any current representation). Before, only the header
 * exactly equal to the ETag did: a client or proxy that weakened the tag, or listed the tags of its
 * cached copies, got the whole document again.
 *
 * @example
 * if (ifNoneMatchHits(request.headers['if-none-match'], '"menu-7"')) return reply.status(304).send();
 */
export function ifNoneMatchHits(header: string | string[] | undefined, etag: string): boolean {
  if (header === undefined) return false;
  const value = (Array.isArray(header) ? header.join(', ') : header).trim();
  if (value === '*') return true;
  const opaque = etag.startsWith('W/') ? etag.slice(2) : etag;
  for (const [, tag] of value.matchAll(ENTITY_TAG)) if (tag === opaque) return true;
  return false;
}
