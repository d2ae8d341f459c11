import { warnEveryMinute } from '../runtime/warnEveryMinute.ts';

/** What the process knows of the dedicated databases (see {@link createPlacementCatalog}). */
export interface PlacementCatalog {
  /**
   * The dedicated databases: the catalog as read at most `maxAgeMs` ago (callers at the same moment
   * share one read), together with every one this process has learned of since (a fence's `BRMOV`).
   * With `fresh`, the answer is of a read that begins now, whatever the age of the last read: for a
   * caller that must see a placement committed before its call (a read that found a position in none
   * of the databases it knew). With `readSince` (a `performance.now()` instant), of a read that began
   * at or after it: the last read's, a read in flight's, or a new one, so callers that each need a
   * read newer than their own start share one. When a read fails, the last known list is the answer
   * (see {@link createPlacementCatalog}).
   */
  list(options?: { readonly fresh?: boolean; readonly readSince?: number }): Promise<readonly string[]>;
  /** Notes a dedicated database at once, before the next read of the catalog shows it. */
  learn(url: string): void;
}

/** Options of {@link createPlacementCatalog}. */
export interface PlacementCatalogOptions {
  /** How long a read of the catalog is served before it is read again, in ms. Default {@link DEFAULT_CATALOG_MAX_AGE_MS}. */
  readonly maxAgeMs?: number;
  /**
   * Hears a failed read that was answered with the last known list. Default: a process warning, at
   * most once a minute.
   */
  readonly onStale?: (error: unknown) => void;
}

/** Answers of {@link PlacementCatalog.list} given while the catalog's last read had failed (see {@link isStaleList}). */
const staleLists = new WeakSet<readonly string[]>();

/**
 * Whether `list`, an answer of a {@link PlacementCatalog}'s `list` (as the tenant router's
 * `dedicatedDatabases` passes it on), is the last known list given while the catalog could not be
 * read: it may miss a database placed since the last good read. For a read across databases that
 * then says it may lag.
 */
export function isStaleList(list: readonly string[]): boolean {
  return staleLists.has(list);
}

/** Default of `maxAgeMs`: how stale the list may be, e.g. how long a new placement can go unseen by a fan-out read. */
export const DEFAULT_CATALOG_MAX_AGE_MS = 1000;

/**
 * A cached view of the placement catalog's dedicated databases. `read` lists them (e.g.
 * `readPlacementCatalog`). Databases are never
 * forgotten: a tenant moves from the shared database to a dedicated one, never back (decision 0008).
 *
 * A failed read answers its callers with the last known list (the last good read and every database
 * learned since; {@link isStaleList} tells it until a read succeeds), told to `onStale`, and counts as
 * a read for `maxAgeMs`: a catalog that cannot be read costs one failed read per `maxAgeMs`, not one
 * per caller, and a read across databases does not fail because of it (it may miss a database placed
 * since the last good read). Before any good read there is no list to fall back to: the failure is
 * thrown to the callers of that read, and the next call reads again.
 *
 * @example
 * const catalog = createPlacementCatalog(() => readPlacementCatalog(databases, 'placement-catalog'));
 * const urls = await catalog.list();
 */
export function createPlacementCatalog(read: () => Promise<readonly string[]>, options: PlacementCatalogOptions = {}): PlacementCatalog {
  const maxAgeMs = options.maxAgeMs ?? DEFAULT_CATALOG_MAX_AGE_MS;
  const onStale = options.onStale ?? warnEveryMinute('placement catalog', 'the last known list of dedicated databases is used until a read succeeds');
  const known = new Set<string>();
  let everRead = false;
  /** The last read failed: answers are the last known list ({@link isStaleList}). */
  let stale = false;
  let readAt = -Infinity;
  let reading: Promise<readonly string[]> | undefined;
  /** When the read in flight (`reading`) began. */
  let readingSince = -Infinity;
  const snapshot = () => {
    const list = [...known].sort();
    if (stale) staleLists.add(list);
    return list;
  };
  /** One read of the catalog, started now. */
  const readNow = (): Promise<readonly string[]> => {
    const startedAt = performance.now();
    const done = Promise.resolve()
      .then(read)
      .then(
        (urls) => {
          for (const url of urls) known.add(url);
          everRead = true;
          stale = false;
          readAt = Math.max(readAt, startedAt);
          return snapshot();
        },
        (error: unknown) => {
          if (!everRead) throw error;
          onStale(error);
          stale = true;
          readAt = Math.max(readAt, startedAt);
          return snapshot();
        },
      )
      .finally(() => {
        if (reading === done) reading = undefined;
      });
    return done;
  };
  /** A new read, shared by later callers while it is in flight. */
  const startRead = () => {
    readingSince = performance.now();
    reading = readNow();
    return reading;
  };
  return {
    list(listOptions = {}) {
      // `fresh` is a read begun no earlier than now. A read in flight, or the last one, that began
      // before what the caller must see does not serve it: then a new one begins.
      const readSince = listOptions.fresh === true ? performance.now() : listOptions.readSince;
      if (readSince !== undefined) {
        if (readAt >= readSince) return Promise.resolve(snapshot());
        if (reading !== undefined && readingSince >= readSince) return reading;
        return startRead();
      }
      if (performance.now() - readAt < maxAgeMs) return Promise.resolve(snapshot());
      return reading ?? startRead();
    },
    learn(url) {
      known.add(url);
    },
  };
}
