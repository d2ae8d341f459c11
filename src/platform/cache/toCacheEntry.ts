import { createHash } from 'node:crypto';
import { ValidationError } from '../errors/index.ts';

/** Where a returned entry came from: the in-process LRU, Redis, or the loader just now. */
export type CacheSource = 'memory' | 'redis' | 'loader';

/**
 * A cached document as it goes over the wire: the serialised body and its strong ETag, ready for a
 * route to send as-is (`reply.header('etag', e.etag).type('application/json').send(e.body)`), so a
 * hit re-serialises nothing. Treat `body` as read-only: an in-process hit hands out the stored Buffer.
 */
export interface CacheEntry {
  /** The serialised document (usually UTF-8 JSON). */
  readonly body: Buffer;
  /** A strong HTTP ETag, quoted (`"…"`): the loader's own, or a SHA-1 of the body. */
  readonly etag: string;
  /** Which tier answered: `memory`, `redis`, or `loader` (a miss). */
  readonly source: CacheSource;
}

/**
 * What a loader returns: the serialised document, or the document with its own ETag (for example
 * the menu version, `"menu-v42"`). Serialise once, in the loader: the cache stores bytes only.
 */
export type LoadedValue = string | Buffer | { readonly body: string | Buffer; readonly etag?: string };

// Printable ASCII without spaces: what an entity-tag may hold, and never the '\n' the Redis encoding uses.
const ETAG = /^(W\/)?"[\x21\x23-\x7e]*"$/;

/** Turns a loader's result into an entry with source `loader`, computing the ETag when none is given. */
export function toCacheEntry(value: LoadedValue): CacheEntry {
  const raw = typeof value === 'string' || Buffer.isBuffer(value) ? { body: value } : value;
  const body = typeof raw.body === 'string' ? Buffer.from(raw.body, 'utf8') : raw.body;
  if (!Buffer.isBuffer(body)) throw new ValidationError('A cache loader must return a string, a Buffer or { body, etag? }', { field: 'body' });
  let etag = raw.etag;
  if (etag === undefined) etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  else if (!ETAG.test(etag)) throw new ValidationError(`A loader's etag must be a quoted entity-tag, got ${JSON.stringify(etag)}`, { field: 'etag' });
  return { body, etag, source: 'loader' };
}
