import { createHash } from 'node:crypto';
import { subjectDigest, type SubjectKey } from '../../platform/temporal/index.ts';

/**
 * SHA-256 of a JSON value in canonical form: object keys sorted at every depth, no whitespace. Two
 * bodies that differ only in key order or spacing hash the same; any other difference does not.
 * Unkeyed: a placement stores {@link placementHashes}'s keyed hash, and matches this one only for keys
 * claimed before it.
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

/** What a placement's request hash is keyed for, under the customer's data key ({@link placementHashes}). */
export const PLACEMENT_HASH_PURPOSE = 'ordering placement request';

/** The hashes a placement's body is known by (see {@link placementHashes}). */
export interface PlacementHashes {
  /**
   * The hash a new claim stores: the HMAC of the body (each line's `modifierIds` sorted) under the
   * customer's data key ({@link PLACEMENT_HASH_PURPOSE}), which erasing the customer destroys.
   */
  readonly hash: Buffer;
  /**
   * Whether a key's stored hash is this body's: {@link hash}, or an unkeyed SHA-256 that a key claimed
   * before the hash was keyed holds (of the body with its modifiers sorted, or as sent, before the
   * fix-ordcmd change). Those are computed only when `held` is not `hash`.
   */
  matches(held: Buffer): boolean;
}

/**
 * The hashes of a `POST /v1/orders` body, under `customerKey` (the customer's data key, decision 0090).
 * A line's modifiers are a set (the menu prices them in its own order and refuses one chosen twice), so
 * they are hashed sorted: the same order with its modifiers listed otherwise is the same request. Lines
 * keep their order (the order's lines are in it).
 *
 * Why keyed, and by the customer's key: the body holds the delivery address, and a row of
 * `ordering.idempotency_keys` keeps the hash for 24 hours. An unkeyed SHA-256 let anyone with the
 * database and a guess of the address confirm it, after the customer's erasure too. Under the
 * customer's key a guess can be tested only by a reader of the key, who can open the sealed address
 * anyway; once the erasure destroys the key, by nobody, in every database the row was copied to, with
 * nothing for the erasure to reach (decision 0090, Fixed later, forty-eighth session).
 *
 * Keys claimed before that hold an unkeyed hash; until the fix-ordcmd change the modifiers were hashed
 * as sent. `matches` accepts a record holding any of them as this body's.
 *
 * @example
 * const hashes = placementHashes({ restaurantId, deliveryAddress, lines: [{ itemId, quantity: 1, modifierIds: [b, a] }] }, await keys.keyFor(customerId));
 * if (record !== null && !hashes.matches(record.requestHash)) throw keyReused();
 */
export function placementHashes<L extends { readonly modifierIds: readonly string[] }, B extends { readonly lines: readonly L[] }>(body: B, customerKey: SubjectKey): PlacementHashes {
  const isSorted = (ids: readonly string[]) => ids.every((id, i) => i === 0 || ids[i - 1]! <= id);
  const allSorted = body.lines.every((l) => isSorted(l.modifierIds));
  const sorted = allSorted ? body : { ...body, lines: body.lines.map((l) => ({ ...l, modifierIds: [...l.modifierIds].sort() })) };
  const hash = subjectDigest(customerKey, PLACEMENT_HASH_PURPOSE, canonicalJson(sorted));
  return {
    hash,
    matches: (held) => held.equals(hash) || held.equals(requestHash(sorted)) || (!allSorted && held.equals(requestHash(body))),
  };
}
