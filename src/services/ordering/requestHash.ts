import { createHash } from 'node:crypto';

/**
 * SHA-256 of a JSON value in canonical form: object keys sorted at every depth, no whitespace. Two
 * bodies that differ only in key order or spacing hash the same; any other difference does not.
 */
export function requestHash(value: unknown): Buffer {
  return createHash('sha256').update(canonicalJson(value)).digest();
}

/** JSON with object keys sorted at every depth. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
