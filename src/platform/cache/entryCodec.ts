import type { CacheEntry } from './toCacheEntry.ts';

const NEWLINE = 0x0a;

/**
 * One Redis value holds the ETag and the body, `<etag>\n<body>`, so a hit is a single GET.
 * ETags never contain '\n' (checked in toCacheEntry), so the first newline is the separator.
 */
export function encodeEntry(entry: CacheEntry): Buffer {
  return Buffer.concat([Buffer.from(`${entry.etag}\n`, 'latin1'), entry.body]);
}

/** Reverses {@link encodeEntry} without copying the body; `null` for a value it did not write. */
export function decodeEntry(value: Buffer): CacheEntry | null {
  const nl = value.indexOf(NEWLINE);
  if (nl <= 0) return null;
  return { etag: value.toString('latin1', 0, nl), body: value.subarray(nl + 1), source: 'redis' };
}
