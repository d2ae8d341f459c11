import type { EncryptionInfo } from '../events/index.ts';
import { SealedValueError } from './errors.ts';
import { memberAt } from './jsonPointer.ts';
import { seal } from './sealedValue.ts';

/** A subject's data key, as a keyring hands it out. */
export interface SubjectKey {
  /** The key's id, e.g. `customer:<uuid>`: what sealed values and the event envelope name. */
  readonly keyId: string;
  /** 32 bytes (AES-256). */
  readonly key: Buffer;
}

/**
 * Seals the string fields at `pointers` (RFC 6901 JSON Pointers) of `data` under `subject`'s key and
 * returns a copy with them sealed, with the envelope's {@link EncryptionInfo} to append beside it
 * (crypto-shredding: erasure destroys the key, and every copy of the value, in the log, the outbox,
 * the broker and the views, stops opening). A field that is absent or `null` is left as it is; a field
 * that is not a string is refused.
 *
 * @throws {SealedValueError} a pointer that names no object member, or a value that is not a string.
 * @example
 * const { data, encryption } = sealFields(event.data, ['/deliveryAddress'], await keys.keyFor(customerId));
 * store.append(tx, stream, [{ type: 'OrderPlaced', data, encryption }], 0);
 */
export function sealFields<T>(data: T, pointers: readonly string[], subject: SubjectKey): { data: T; encryption: EncryptionInfo } {
  const copy = structuredClone(data) as unknown;
  for (const pointer of pointers) {
    const member = memberAt(copy, pointer);
    if (member === null) throw new SealedValueError(`${pointer} names no member of an object`);
    const value = member.parent[member.name];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw new SealedValueError(`${pointer} is not a string: only strings are sealed`);
    member.parent[member.name] = seal(value, subject.key, subject.keyId);
  }
  return { data: copy as T, encryption: { keyId: subject.keyId, fields: [...pointers] } };
}
