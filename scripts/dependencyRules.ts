import path from 'node:path';

/** An import that breaks the architecture: who imports what, and which rule it breaks. */
export interface Violation {
  readonly from: string;
  readonly to: string;
  readonly rule: string;
}

/** Where a source file sits: `platform`, `service:<name>`, `api`, `cli`, `composition`, or `other`. */
export function layerOf(file: string): string {
  const parts = file.split('/');
  if (parts[0] !== 'src') return 'other';
  if (parts[1] === 'services' && parts.length > 3) return `service:${parts[2]}`;
  return parts[1] ?? 'other';
}

/**
 * The rules of DESIGN.md: the platform imports no service (nor the HTTP plumbing, the CLI or the
 * composition root); no service imports another service, the CLI or the composition root; the
 * shared HTTP plumbing imports no service. Paths are relative to the repository root.
 */
export function checkImport(from: string, to: string): Violation | null {
  const a = layerOf(from);
  const b = layerOf(to);
  if (a === 'platform' && b !== 'platform' && b !== 'other') return { from, to, rule: 'the platform imports no service, api, cli or composition module' };
  if (a.startsWith('service:')) {
    if (b.startsWith('service:') && b !== a) return { from, to, rule: 'no service imports another service' };
    if (b === 'cli' || b === 'composition') return { from, to, rule: 'a service imports only the platform and the shared HTTP plumbing' };
  }
  if (a === 'api' && (b.startsWith('service:') || b === 'cli' || b === 'composition')) return { from, to, rule: 'src/api is shared plumbing and imports no service' };
  return null;
}

/** Resolves a relative import specifier of `from` to a repository path; bare packages give null. */
export function resolveImport(from: string, specifier: string): string | null {
  if (!specifier.startsWith('.')) return null;
  return path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
}
