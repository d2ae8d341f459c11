import { SealedValueError } from './errors.ts';

/** The reference tokens of an RFC 6901 JSON Pointer (`~1` is `/`, `~0` is `~`). @throws {SealedValueError} not a pointer. */
export function parsePointer(pointer: string): string[] {
  if (!pointer.startsWith('/')) throw new SealedValueError(`${JSON.stringify(pointer)} is not a JSON Pointer (it starts with /)`);
  return pointer
    .slice(1)
    .split('/')
    .map((token) => token.replaceAll('~1', '/').replaceAll('~0', '~'));
}

/**
 * The object member `pointer` names inside `root`: its parent object and its name, or `null` when a
 * step of the way is not an object (an array, a string, missing).
 */
export function memberAt(root: unknown, pointer: string): { parent: Record<string, unknown>; name: string } | null {
  const path = parsePointer(pointer);
  const name = path.pop()!;
  let parent: unknown = root;
  for (const part of path) parent = isObject(parent) ? parent[part] : undefined;
  return isObject(parent) ? { parent, name } : null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
