/** A cache of a namespace, as an {@link EvictionBus} sees it. */
export interface EvictionSubscriber {
  /** An eviction of `keys` reached this cache; `from` is the evicting cache's id when it is in this process. */
  evicted(keys: readonly string[], from: string | null): void;
  /**
   * The bus stopped listening: evictions made elsewhere may be missed until {@link EvictionBus.listening}
   * is true again, so the cache drops everything it holds and every load under way.
   */
  lost(): void;
}

/**
 * How a memory-mode cache (no Redis) hears of the evictions made by every cache of its namespace: the
 * in-process bus (the default: this process only) or `createPgEvictionBus` (every process on one
 * PostgreSQL database, through LISTEN/NOTIFY).
 */
export interface EvictionBus {
  /**
   * Tells every cache of the namespace that `keys` changed: those subscribed through this bus
   * synchronously, before the first await (the sender included), the others as the bus carries it.
   * Never rejects: what cannot be sent is reported and sent again later.
   */
  publish(namespace: string, keys: readonly string[], from: string): Promise<void>;
  /** Subscribes a cache to its namespace's evictions (a bus may start listening then); returns the unsubscribe. */
  subscribe(namespace: string, subscriber: EvictionSubscriber): () => void;
  /**
   * Whether every eviction published from now on reaches this bus's subscribers. While false a cache
   * trusts nothing it holds: its reads go to the loader and store nothing.
   */
  listening(): boolean;
  /** Resolves once {@link listening} is true (at once for the in-process bus). */
  ready(): Promise<void>;
}
