/** What the process knows of the dedicated databases (see {@link createPlacementCatalog}). */
export interface PlacementCatalog {
  /**
   * The dedicated databases: the catalog as read at most `maxAgeMs` ago (callers at the same moment
   * share one read), together with every one this process has learned of since (a fence's `BRMOV`).
   */
  list(): Promise<readonly string[]>;
  /** Notes a dedicated database at once, before the next read of the catalog shows it. */
  learn(url: string): void;
}

/** Default of `maxAgeMs`: how stale the list may be, e.g. how long a new placement can go unseen by a fan-out read. */
export const DEFAULT_CATALOG_MAX_AGE_MS = 1000;

/**
 * A cached view of the placement catalog's dedicated databases. `read` lists them (e.g.
 * `listDedicatedDatabases` in a transaction allowed to read the catalog). Databases are never
 * forgotten: a tenant moves from the shared database to a dedicated one, never back (decision 0008).
 * A failed read is thrown to the callers of that read; the next call reads again.
 */
export function createPlacementCatalog(read: () => Promise<readonly string[]>, options: { readonly maxAgeMs?: number } = {}): PlacementCatalog {
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_CATALOG_MAX_AGE_MS;
  const known = new Set<string>();
  let readAt = -Infinity;
  let reading: Promise<readonly string[]> | undefined;
  const snapshot = () => [...known].sort();
  return {
    list() {
      if (performance.now() - readAt < maxAgeMs) return Promise.resolve(snapshot());
      reading ??= (async () => {
        const startedAt = performance.now();
        try {
          for (const url of await read()) known.add(url);
          readAt = startedAt;
          return snapshot();
        } finally {
          reading = undefined;
        }
      })();
      return reading;
    },
    learn(url) {
      known.add(url);
    },
  };
}
