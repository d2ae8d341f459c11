import { isSealed, keyIdOf, unseal } from './sealedValue.ts';

/**
 * Reads the keys of the given ids: the ones that exist, by id. An erased subject's key is missing.
 * One call per {@link revealSealed}, however many values share a key.
 */
export type ReadKeys = (keyIds: readonly string[]) => Promise<ReadonlyMap<string, Buffer>>;

/**
 * A copy of `value` (any JSON value: a view row, an event's data, a list of them) with every sealed
 * string opened, and `null` in place of each one whose key is gone (its subject was erased). Values
 * without a sealed string come back as they are, without a key read.
 *
 * @throws {SealedValueError} a sealed value that does not open under its own key (altered).
 * @example
 * const view = await revealSealed(toOrderView(state, version, position), keys.keysOf);
 */
export async function revealSealed<T>(value: T, readKeys: ReadKeys): Promise<T> {
  const ids = new Set<string>();
  collect(value, ids);
  if (ids.size === 0) return value;
  const keys = await readKeys([...ids]);
  return open(value, keys) as T;
}

function collect(value: unknown, ids: Set<string>): void {
  if (isSealed(value)) ids.add(keyIdOf(value));
  else if (Array.isArray(value)) for (const item of value) collect(item, ids);
  else if (isPlainObject(value)) for (const item of Object.values(value)) collect(item, ids);
}

function open(value: unknown, keys: ReadonlyMap<string, Buffer>): unknown {
  if (isSealed(value)) {
    const key = keys.get(keyIdOf(value));
    return key === undefined ? null : unseal(value, key);
  }
  if (Array.isArray(value)) return value.map((item) => open(item, keys));
  if (isPlainObject(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, open(v, keys)]));
  return value;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object') return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}
