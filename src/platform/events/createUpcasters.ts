import { ValidationError } from '../errors/index.ts';
import type { EventMetadata } from './types.ts';

/** Raises one event type's data by one schema version: `fromVersion` → `fromVersion + 1`. */
export interface Upcaster {
  /** Event type, e.g. `OrderPlaced`. */
  readonly type: string;
  /** The stored version this upcaster reads; it returns data of `fromVersion + 1`. */
  readonly fromVersion: number;
  /** Pure function of the old data (and the metadata, e.g. `occurredAt` for a default). */
  readonly upcast: (data: unknown, metadata: EventMetadata) => unknown;
}

/** Upcasters keyed by (type, fromVersion). */
export interface Upcasters {
  /** Applies every upcaster from `schemaVersion` on, chained (v1 → v2 → v3); returns the data and its version. */
  apply(type: string, schemaVersion: number, data: unknown, metadata: EventMetadata): { data: unknown; schemaVersion: number };
  /** The current version of `type`: one above the highest upcaster's `fromVersion`, or 1. */
  currentVersion(type: string): number;
}

/**
 * A registry of upcasters, applied on read so old events come back in the current shape. Two
 * upcasters for one (type, fromVersion) are an error, and so is a missing step in a type's chain from
 * v1 to its current version: a gap (v1 and v3 without v2: events read at v2 would stop there), or a
 * chain that starts above v1 (v2 and v3 only). A writer stores `schemaVersion` 1 unless it names
 * another, so every type's events start at v1, and without a v1 → v2 step they would come back at v1,
 * short of the current version, with nothing to say so.
 *
 * @throws {ValidationError} `Missing upcaster for <type> v<n> → v<n+1>` (details `type`, `fromVersion`),
 *   or two upcasters for one (type, fromVersion), or a `fromVersion` that is not a positive integer.
 *
 * @example
 * const upcasters = createUpcasters([
 *   { type: 'OrderPlaced', fromVersion: 1, upcast: (d) => ({ ...(d as object), currency: 'EUR' }) },
 *   { type: 'OrderPlaced', fromVersion: 2, upcast: (d) => renameTotal(d) },
 * ]);
 */
export function createUpcasters(list: readonly Upcaster[] = []): Upcasters {
  const byKey = new Map<string, Upcaster>();
  const current = new Map<string, number>();
  for (const u of list) {
    if (!Number.isInteger(u.fromVersion) || u.fromVersion < 1) throw new ValidationError('fromVersion must be a positive integer', { field: 'fromVersion', type: u.type });
    const key = `${u.fromVersion}:${u.type}`;
    if (byKey.has(key)) throw new ValidationError(`Two upcasters for ${u.type} v${u.fromVersion}`, { field: 'fromVersion', type: u.type });
    byKey.set(key, u);
    current.set(u.type, Math.max(current.get(u.type) ?? 1, u.fromVersion + 1));
  }
  for (const [type, next] of current) {
    for (let v = 1; v < next; v++) {
      if (!byKey.has(`${v}:${type}`)) {
        throw new ValidationError(`Missing upcaster for ${type} v${v} → v${v + 1}: the chain from v1 (where stored events start) to the current v${next} needs one for every version`, {
          field: 'fromVersion', type, fromVersion: v,
        });
      }
    }
  }
  return {
    apply(type, schemaVersion, data, metadata) {
      let version = schemaVersion;
      let value = data;
      for (let u = byKey.get(`${version}:${type}`); u !== undefined; u = byKey.get(`${version}:${type}`)) {
        value = u.upcast(value, metadata);
        version++;
      }
      return { data: value, schemaVersion: version };
    },
    currentVersion: (type) => current.get(type) ?? 1,
  };
}
