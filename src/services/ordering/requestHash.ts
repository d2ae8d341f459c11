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

/** The hashes a placement's body is known by (see {@link placementHashes}). */
export interface PlacementHashes {
  /** The hash a new claim stores: each line's `modifierIds` sorted. */
  readonly hash: Buffer;
  /**
   * The hash of the body with its modifiers as sent, when that differs (`null` when every line listed
   * them sorted already): what a key claimed before modifiers were sorted holds for this body.
   */
  readonly asSent: Buffer | null;
}

/**
 * The hashes of a `POST /v1/orders` body. A line's modifiers are a set (the menu prices them in its own
 * order and refuses one chosen twice), so they are hashed sorted: the same order with its modifiers
 * listed otherwise is the same request. Lines keep their order (the order's lines are in it).
 *
 * Until the fix-ordcmd change the modifiers were hashed as sent, so a key claimed then for a body that
 * listed them unsorted holds `asSent`; a caller accepts a record holding either hash as this body's.
 *
 * @example
 * const { hash, asSent } = placementHashes({ restaurantId, deliveryAddress, lines: [{ itemId, quantity: 1, modifierIds: [b, a] }] });
 */
export function placementHashes<L extends { readonly modifierIds: readonly string[] }, B extends { readonly lines: readonly L[] }>(body: B): PlacementHashes {
  const sorted = (ids: readonly string[]) => ids.every((id, i) => i === 0 || ids[i - 1]! <= id);
  if (body.lines.every((l) => sorted(l.modifierIds))) return { hash: requestHash(body), asSent: null };
  const hash = requestHash({ ...body, lines: body.lines.map((l) => ({ ...l, modifierIds: [...l.modifierIds].sort() })) });
  return { hash, asSent: requestHash(body) };
}
