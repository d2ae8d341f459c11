import { memberAt } from './jsonPointer.ts';
import { isSealed, keyIdOf, unseal } from './sealedValue.ts';

/**
 * Reads the keys of the given ids: the ones that exist, by id. An erased subject's key is missing.
 * One call per {@link revealFields}, however many values share a key.
 */
export type ReadKeys = (keyIds: readonly string[]) => Promise<ReadonlyMap<string, Buffer>>;

/**
 * Copies of `items` with the sealed values at each item's declared fields opened, and `null` in place
 * of each one whose key is gone (its subject was erased). Only the fields `fieldsOf` names (RFC 6901
 * pointers into the item) are opened: any other string that merely looks sealed (a reason, a name, a
 * request id someone typed) is left as it is, so input can neither break an answer nor use the reader
 * as a decryption oracle. A declared field that holds plain text (written before it was sealed) is
 * left as it is too. Items without a sealed value come back as they are, without a key read.
 *
 * @throws {SealedValueError} a declared field's sealed value does not open under its own key (altered).
 * @example
 * const [view] = await revealFields([toOrderView(state, version, position)], () => ['/deliveryAddress'], keys.readKeys);
 * const events = await revealFields(answered, (e) => (e.metadata.encryption?.fields ?? []).map((f) => `/data${f}`), keys.readKeys);
 */
export async function revealFields<T>(items: readonly T[], fieldsOf: (item: T) => readonly string[], readKeys: ReadKeys): Promise<T[]> {
  // Each item's sealed values, by pointer, read once.
  const sealed = items.map((item) =>
    fieldsOf(item).flatMap((pointer) => {
      const member = memberAt(item, pointer);
      const value = member === null ? undefined : member.parent[member.name];
      return isSealed(value) ? [{ pointer, value, keyId: keyIdOf(value) }] : [];
    }),
  );
  const ids = new Set(sealed.flat().map((s) => s.keyId));
  if (ids.size === 0) return [...items];
  const keys = await readKeys([...ids]);
  return items.map((item, i) => {
    if (sealed[i]!.length === 0) return item;
    const copy = structuredClone(item);
    for (const { pointer, value, keyId } of sealed[i]!) {
      const { parent, name } = memberAt(copy, pointer)!;
      const key = keys.get(keyId);
      parent[name] = key === undefined ? null : unseal(value, key);
    }
    return copy;
  });
}
