/** Half a surrogate pair (in `u` mode a whole pair is one code point, not `Cs`). */
const LONE_SURROGATE = /\p{Cs}/u;

/**
 * A page cursor a client sends back to read on from where a page ended: `parts` (the page's last sort
 * key, and what the cursor belongs to) as base64url JSON, opaque to the client.
 *
 * @example
 * const next = encodePageCursor(['restaurants', scope, last.city, last.name, last.id]);
 */
export function encodePageCursor(parts: readonly unknown[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

/**
 * The parts {@link encodePageCursor} wrote, when `text` is base64url JSON of an array of `length`
 * items; else null. Each list checks its parts itself.
 *
 * @example
 * const parts = pageCursorParts(after, 5); // null for 'nonsense'
 */
export function pageCursorParts(text: string, length: number): unknown[] | null {
  try {
    const value: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    return Array.isArray(value) && value.length === length ? (value as unknown[]) : null;
  } catch {
    return null;
  }
}

/**
 * Whether a cursor's part is a name a table could hold and PostgreSQL text takes: 1 to `max` code
 * points, no U+0000, no half of a surrogate pair.
 */
export function isCursorName(value: unknown, max: number): value is string {
  return typeof value === 'string' && value.length > 0 && [...value].length <= max && !value.includes('\u0000') && !LONE_SURROGATE.test(value);
}
