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
 * the menu version, `"menu-v42"`) and, for a document that goes stale by itself at a known time, its
 * own time-to-live. Serialise once, in the loader: the cache stores bytes only.
 * @example
 * // A paused menu whose pause ends in 4.2 s, as the database saw it: cached for 4.2 s at most.
 * return { body: doc.json, etag: `"menu-${doc.version}"`, ttlSeconds: 4.2 };
 */
export type LoadedValue =
  | string
  | Buffer
  | {
      readonly body: string | Buffer;
      readonly etag?: string;
      /**
       * How long this entry may be served, in seconds from when it is stored (fractions allowed; at
       * least 1 ms): shortens the cache's `ttlSeconds` for this entry, never lengthens it. Timed by the
       * tier's own clock (the process's monotonic clock in memory mode, Redis's `PX` in Redis mode), so
       * no wall clock, and no skew between hosts, enters into it.
       */
      readonly ttlSeconds?: number;
    };

/** A loader's result ready to store: the entry (source `loader`), and its own time-to-live in ms, or null for the cache's. */
export interface LoadedEntry {
  readonly entry: CacheEntry;
  readonly ttlMs: number | null;
}

// Printable ASCII without spaces: what an entity-tag may hold, and never the '\n' the Redis encoding uses.
const ETAG = /^(W\/)?"[\x21\x23-\x7e]*"$/;

/**
 * Turns a loader's result into an entry with source `loader`, computing the ETag when none is given,
 * with the loader's own time-to-live (in whole milliseconds, rounded down, at least 1) if it gave one.
 */
export function toCacheEntry(value: LoadedValue): LoadedEntry {
  const raw: Exclude<LoadedValue, string | Buffer> = typeof value === 'string' || Buffer.isBuffer(value) ? { body: value } : value;
  const body = typeof raw.body === 'string' ? Buffer.from(raw.body, 'utf8') : raw.body;
  if (!Buffer.isBuffer(body)) throw new ValidationError('A cache loader must return a string, a Buffer or { body, etag? }', { field: 'body' });
  let etag = raw.etag;
  if (etag === undefined) etag = `"${createHash('sha1').update(body).digest('base64url')}"`;
  else if (!ETAG.test(etag)) throw new ValidationError(`A loader's etag must be a quoted entity-tag, got ${JSON.stringify(etag)}`, { field: 'etag' });
  const { ttlSeconds } = raw;
  if (ttlSeconds !== undefined && (typeof ttlSeconds !== 'number' || !Number.isFinite(ttlSeconds) || ttlSeconds <= 0)) {
    throw new ValidationError(`A loader's ttlSeconds must be a positive number of seconds, got ${String(ttlSeconds)}`, { field: 'ttlSeconds' });
  }
  return { entry: { body, etag, source: 'loader' }, ttlMs: ttlSeconds === undefined ? null : Math.max(1, Math.floor(ttlSeconds * 1000)) };
}
