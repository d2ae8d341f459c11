import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { LRUCache } from 'lru-cache';
import client from 'prom-client';
import { ValidationError } from '../errors/index.ts';
import { createCacheMetrics } from './cacheMetrics.ts';
import { createCacheRedis } from './createCacheRedis.ts';
import { decodeEntry, encodeEntry } from './entryCodec.ts';
import { CacheClosedError } from './errors.ts';
import type { EvictionBus } from './evictionBus.ts';
import { localEvictionBus } from './localBus.ts';
import { reportAtMostEvery } from './reportAtMostEvery.ts';
import { createRedisTier, type CacheErrorContext, type RedisTier } from './redisTier.ts';
import { toCacheEntry, type CacheEntry, type LoadedEntry, type LoadedValue } from './toCacheEntry.ts';

/**
 * Loads the document on a miss, already serialised. Runs once per key at a time per process (while
 * Redis is unusable, readers that arrive during a load share the next one, begun after it ends).
 */
export type Loader = () => Promise<LoadedValue>;

/** Options of {@link createCache}. */
export interface CacheOptions {
  /**
   * Redis: an ioredis client (shared; not closed by `close()`; build it with `cacheRedisOptions`
   * so a dead Redis fails fast), a `redis://` URL (the cache opens and closes its own client), or
   * `null`/absent for the in-process LRU (Config.redisUrl is `null` when REDIS_URL is unset).
   */
  readonly redis?: Redis | string | null;
  /** Prefix of every key and of the broadcast channel, e.g. `menu`. Letters, digits, `_.:-`. */
  readonly namespace: string;
  /**
   * Redis mode: put before the namespace in every key and channel (`staging:` gives `staging:menu:{…}:v`),
   * so that deployments sharing one Redis keep apart (`CACHE_KEY_PREFIX`). Default none. Up to 32 letters,
   * digits, `_.:-`. Metrics and errors name the namespace alone.
   */
  readonly keyPrefix?: string;
  /** Time-to-live of a cached value, in seconds (fractions allowed). Default 60. */
  readonly ttlSeconds?: number;
  /** In-process LRU capacity, in entries (memory mode only). Default 10 000. */
  readonly maxEntries?: number;
  /**
   * In-process LRU capacity, in bytes of body and ETag (memory mode only; Redis keeps its own
   * `maxmemory`). Default 64 MiB (`CACHE_MAX_BYTES`). The least recently used entries make room; the
   * entry count caps it too, whichever is reached first.
   */
  readonly maxBytes?: number;
  /**
   * Largest entry the in-process LRU keeps, in bytes of body and ETag (memory mode only). A larger one
   * is returned to its readers (single-flight still shares its load) and not kept, so every read of it
   * loads again, and it pushes nothing else out (`brigade_cache_oversized_total`). At most `maxBytes`;
   * default an eighth of it, so that no one entry can take the place of most of the others.
   */
  readonly maxEntryBytes?: number;
  /** Where the `brigade_cache_*` metrics go. Several caches may share one registry. */
  readonly registry?: client.Registry;
  /**
   * Told about backend trouble (Redis down, a timed-out GET, a queued eviction, a refused eviction
   * broadcast: op `broadcast`) and, once, about a Redis
   * set to refuse writes when full (op `config`: `maxmemory` with the `noeviction` policy). Reads never
   * fail because of it. At most one call per operation kind every 5 s; the metrics count every one.
   */
  readonly onError?: (error: unknown, context: CacheErrorContext) => void;
  /**
   * Redis mode: publish evictions on `<namespace>:evictions` and listen for other instances', so a
   * load in flight on another instance is dropped at once instead of being refused at its fenced
   * write. Default true. Correctness never depends on it (pub/sub loses messages across a
   * reconnect); false saves one connection per cache.
   */
  readonly broadcast?: boolean;
  /**
   * Redis mode: how long `evict()` waits, when it finds the Redis client reconnecting (its connection
   * dropped: a Redis restart, a failover, a proxy restart), for the client to be back and the eviction to
   * land before it resolves, in milliseconds. Other instances that reconnect first would otherwise serve
   * the old value from Redis after the write returned. Past the bound the eviction is queued and replayed
   * in the background, as during an outage; once one wait in an outage ran out, later evictions of that
   * outage queue at once. Default 1000; 0 queues at once; at most 60 000.
   * @example
   * createCache({ namespace: 'menu', redis: config.redisUrl, evictWaitMs: 500 }); // a write waits 0.5 s at most
   */
  readonly evictWaitMs?: number;
  /**
   * Memory mode: how evictions reach the other caches of the namespace. Default: the in-process bus,
   * which reaches only this process's. With several processes on one database (no Redis), give every
   * cache `createPgEvictionBus({ pool })`: evictions are NOTIFYed, and while its LISTEN is down the
   * cache trusts nothing it holds (reads go to the loader). Ignored in Redis mode.
   */
  readonly evictions?: EvictionBus;
}

/** A cache-aside cache. See {@link createCache}. */
export interface Cache {
  /** `redis` when a Redis was given, else `memory`. */
  readonly mode: 'memory' | 'redis';
  /** The namespace given at creation. */
  readonly namespace: string;
  /**
   * Returns the cached entry for `key`, or runs `loader`, caches what it returns and returns that.
   * Concurrent misses of one key in one process share one loader call (single-flight), unless an
   * eviction of the key came between them. When Redis is unusable (or, in memory mode, the eviction
   * bus is not listening) reads get the loader's result uncached: reads never fail because of Redis
   * (a loader's own error is passed on, and nothing is cached), and none shares a load that may
   * predate an eviction it cannot hear of: readers that arrive while a load is under way wait for it
   * and share one load begun after it.
   */
  getOrLoad(key: string, loader: Loader): Promise<CacheEntry>;
  /**
   * Evicts keys on every instance: in Redis mode the value is deleted and the key's generation
   * replaced in one transaction, then broadcast (a refused broadcast is reported, op `broadcast`, and
   * the eviction stands); in memory mode every cache of the namespace on the
   * eviction bus drops it: those in this process before it resolves, those in other processes (with
   * `createPgEvictionBus`) once its NOTIFY, sent before it resolves, reaches them. When it resolves,
   * no read that starts afterwards on any instance that shares the tier (Redis) or is in this process
   * (memory) can return what was cached before, and no load that began earlier can store its result.
   * Call it after commit: `tx.afterCommit(() => cache.evict(key))`. Never rejects because of Redis. When
   * the Redis client is reconnecting it waits for it, `evictWaitMs` at most (default 1 s). An
   * eviction that cannot reach it is reported and queued (one that Redis refuses, out of memory, still
   * deletes the values and generations with a plain DEL and broadcasts before it resolves, and is queued
   * too, to replace the generations once Redis takes writes again); the queue is replayed in the background as
   * soon as Redis takes it (`brigade_cache_evictions_queued`, `brigade_cache_evictions_replayed_total`),
   * and this instance does not read Redis until then.
   */
  evict(keys: string | readonly string[]): Promise<void>;
  /**
   * Resolves once the cache can use its backend: in memory mode when its eviction bus listens (at once
   * for the in-process bus); in Redis mode when Redis is connected and the eviction broadcast
   * subscribed. Optional: reads before that are served by the loader (and not cached). It waits as long as Redis is away, so race it with a timeout at start-up.
   */
  ready(): Promise<void>;
  /**
   * Replays the evictions still queued if Redis takes them (waiting 2 s at most), reports those it
   * could not (`onError` with op `close` and their keys), stops the broadcast subscription and closes
   * the Redis client the cache opened itself.
   */
  close(): Promise<void>;
}

interface Flight {
  /** The Redis generation read before the load began, or null (memory mode, or Redis held an undecodable value). */
  readonly token: string | null;
  /** Set by an eviction of the key while the load ran: its result is returned but not stored. */
  stale: boolean;
  promise: Promise<CacheEntry>;
}

const NAMESPACE = /^[A-Za-z0-9_.:-]{1,64}$/;

/**
 * Creates a cache-aside cache: Redis when `redis` is given, else an in-process LRU (whose evictions
 * reach other processes only through an `evictions` bus such as `createPgEvictionBus`).
 *
 * Correctness (see docs/decisions/0020-cache-aside.md): one tier only per mode (no in-process copy
 * in front of Redis, so no instance can answer from a copy an eviction has not reached yet);
 * evictions after commit; single-flight per process; loads fenced by a per-key generation token so
 * a load that began before a committed change can neither store its result nor be joined by a
 * reader that arrives after the eviction.
 *
 * @example
 * const menus = createCache({ namespace: 'menu', redis: config.redisUrl, ttlSeconds: 60, registry });
 * const entry = await menus.getOrLoad(`${tenantId}`, async () => {
 *   const menu = await loadMenu(tenantId);            // one read transaction
 *   return { body: JSON.stringify(menu), etag: `"${menu.version}"` };
 * });
 * reply.header('etag', entry.etag).type('application/json').send(entry.body);
 * // in the write's unit of work, after the change:
 * tx.afterCommit(() => menus.evict(`${tenantId}`));
 */
export function createCache(options: CacheOptions): Cache {
  const { namespace } = options;
  if (!NAMESPACE.test(namespace)) throw new ValidationError('namespace must be 1-64 letters, digits or _.:-', { field: 'namespace' });
  const keyPrefix = options.keyPrefix ?? '';
  if (!/^[A-Za-z0-9_.:-]{0,32}$/.test(keyPrefix)) throw new ValidationError('keyPrefix must be up to 32 letters, digits or _.:-', { field: 'keyPrefix' });
  const ttlSeconds = options.ttlSeconds ?? 60;
  if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0 || ttlSeconds > 365 * 86400) throw new ValidationError('ttlSeconds must be a positive number of seconds', { field: 'ttlSeconds' });
  const ttlMs = Math.max(1, Math.round(ttlSeconds * 1000));
  const maxEntries = options.maxEntries ?? 10_000;
  if (!Number.isSafeInteger(maxEntries) || maxEntries < 1) throw new ValidationError('maxEntries must be a positive integer', { field: 'maxEntries' });
  const maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new ValidationError('maxBytes must be a positive integer', { field: 'maxBytes' });
  const maxEntryBytes = options.maxEntryBytes ?? Math.max(1, Math.floor(maxBytes / 8));
  if (!Number.isSafeInteger(maxEntryBytes) || maxEntryBytes < 1 || maxEntryBytes > maxBytes) {
    throw new ValidationError('maxEntryBytes must be a positive integer no larger than maxBytes', { field: 'maxEntryBytes' });
  }

  const evictWaitMs = options.evictWaitMs ?? 1000;
  if (!Number.isSafeInteger(evictWaitMs) || evictWaitMs < 0 || evictWaitMs > 60_000) {
    throw new ValidationError('evictWaitMs must be a whole number of milliseconds from 0 to 60000', { field: 'evictWaitMs' });
  }

  const metrics = createCacheMetrics(options.registry ?? new client.Registry(), namespace);
  const instanceId = randomUUID();
  const flights = new Map<string, Flight>();
  let closed = false;

  const reportRarely = reportAtMostEvery(options.onError);
  const report = (error: unknown, context: CacheErrorContext) => {
    metrics.error(context.op).inc();
    reportRarely(error, context);
  };
  const detach = (keys: readonly string[]) => {
    for (const key of keys) {
      const flight = flights.get(key);
      if (flight === undefined) continue;
      flight.stale = true;
      flights.delete(key);
    }
  };

  const load = async (loader: Loader): Promise<LoadedEntry> => {
    const done = metrics.loadTimer();
    try {
      const loaded = toCacheEntry(await loader());
      done('ok');
      return loaded;
    } catch (error) {
      done('error');
      throw error;
    }
  };
  /**
   * Starts the one load of `key` that concurrent readers join; `store` puts its result in the tier for
   * `ttl` ms (the cache's, or the loader's own when shorter), and `failed` (awaited before the loader's
   * error is passed on) undoes what the miss left in it.
   */
  const startFlight = (
    key: string,
    token: string | null,
    loader: Loader,
    store: (entry: CacheEntry, flight: Flight, ttl: number) => Promise<void> | void,
    failed?: () => Promise<void>,
  ): Promise<CacheEntry> => {
    const flight: Flight = { token, stale: false, promise: Promise.resolve(null as never) };
    flights.set(key, flight);
    flight.promise = (async () => {
      try {
        let loaded: LoadedEntry;
        try {
          loaded = await load(loader);
        } catch (error) {
          if (failed !== undefined && !closed) await failed();
          throw error;
        }
        const { entry } = loaded;
        if (closed) return entry;
        if (flight.stale) metrics.staleLoad.inc();
        else await store(entry, flight, Math.min(ttlMs, loaded.ttlMs ?? ttlMs));
        return entry;
      } finally {
        if (flights.get(key) === flight) flights.delete(key);
      }
    })();
    return flight.promise;
  };
  const checkKey = (key: string) => {
    if (closed) throw new CacheClosedError(namespace);
    if (typeof key !== 'string' || key.length === 0 || key.length > 512) throw new ValidationError('A cache key must be a string of 1-512 characters', { field: 'key' });
  };
  const keyList = (keys: string | readonly string[]) => {
    const list = typeof keys === 'string' ? [keys] : [...keys];
    for (const key of list) if (typeof key !== 'string' || key.length === 0 || key.length > 512) throw new ValidationError('A cache key must be a string of 1-512 characters', { field: 'key' });
    return list;
  };

  // Degraded: to the loader, nothing stored. Without Redis (or, in memory mode, without its eviction
  // bus's LISTEN) this instance cannot learn of an eviction made elsewhere (the broadcast rides the same
  // Redis), so a load begun before a read may hold the document from before it: a read shares only a
  // load begun after it. Readers that arrive while a load of the key is under way wait for it to end
  // and then share one new load (the first one's loader): a hot key runs one load at a time, each
  // shared by the readers that arrived during the one before, instead of one database query per read
  // exactly when the load is highest.
  const degraded = new Map<string, { readonly running: Promise<CacheEntry>; next: Promise<CacheEntry> | null }>();
  const startDegraded = (key: string, loader: Loader): Promise<CacheEntry> => {
    const loads = { running: load(loader).then((loaded) => loaded.entry), next: null };
    degraded.set(key, loads);
    // Registered before any successor's start (below), so it runs first when the load ends.
    const ended = () => {
      if (degraded.get(key) === loads) degraded.delete(key);
    };
    loads.running.then(ended, ended);
    return loads.running;
  };
  const fallback = (key: string, loader: Loader): Promise<CacheEntry> => {
    metrics.fallback.inc();
    const loads = degraded.get(key);
    if (loads === undefined) return startDegraded(key, loader);
    const next = () => startDegraded(key, loader);
    loads.next ??= loads.running.then(next, next);
    return loads.next;
  };

  if (options.redis === undefined || options.redis === null) {
    const bus = options.evictions ?? localEvictionBus;
    // Sized by the bytes it holds, not only by count: a menu document can be ~90 KB (decision 0021),
    // and 10 000 of them were ~900 MB of heap. An entry above maxEntryBytes is not stored (lru-cache
    // drops it at set), so one oversized document is read uncached instead of emptying the cache.
    const lru = new LRUCache<string, CacheEntry>({
      max: maxEntries,
      ttl: ttlMs,
      maxSize: maxBytes,
      maxEntrySize: maxEntryBytes,
      sizeCalculation: (entry) => entry.body.length + entry.etag.length,
    });
    const storeInMemory = (key: string) => (entry: CacheEntry, _flight: Flight, ttl: number) => {
      const status: LRUCache.Status<string, CacheEntry> = {};
      lru.set(key, { body: entry.body, etag: entry.etag, source: 'memory' }, { status, ttl });
      if (status.maxEntrySizeExceeded === true) metrics.oversized.inc();
    };
    // Subscribed at the first read (or ready()), so that a process that never reads (a worker that
    // builds the routes) keeps no LISTEN; a cache that has not read holds nothing an eviction must reach.
    let unsubscribe: (() => void) | null = null;
    const join = () => {
      unsubscribe ??= bus.subscribe(namespace, {
        evicted(keys, from) {
          for (const key of keys) lru.delete(key);
          detach(keys);
          if (from !== instanceId) metrics.evictRemote.inc(keys.length);
        },
        lost() {
          lru.clear();
          detach([...flights.keys()]);
        },
      });
    };
    return {
      mode: 'memory',
      namespace,
      ready: () => {
        if (closed) return Promise.resolve();
        join();
        return bus.ready();
      },
      getOrLoad(key, loader) {
        checkKey(key);
        if (unsubscribe === null) join();
        // Evictions made elsewhere may go unheard: nothing held may be trusted, nothing loaded stored.
        if (!bus.listening()) return fallback(key, loader);
        // The hot path: the stored object itself, no copy, no serialisation.
        const hit = lru.get(key);
        if (hit !== undefined) {
          metrics.hitMemory.inc();
          return Promise.resolve(hit);
        }
        metrics.miss.inc();
        return flights.get(key)?.promise ?? startFlight(key, null, loader, storeInMemory(key));
      },
      async evict(keys) {
        const list = keyList(keys);
        if (list.length === 0) return;
        metrics.evictLocal.inc(list.length);
        await bus.publish(namespace, list, instanceId);
      },
      async close() {
        closed = true;
        unsubscribe?.();
        lru.clear();
      },
    };
  }

  const owned = typeof options.redis === 'string';
  const redis = typeof options.redis === 'string' ? createCacheRedis(options.redis) : options.redis;
  const tier: RedisTier = createRedisTier({
    redis,
    owned,
    namespace,
    keyPrefix,
    ttlMs,
    instanceId,
    metrics,
    report,
    broadcast: options.broadcast ?? true,
    onRemoteEvict: detach,
    evictWaitMs,
  });

  const storeInRedis = (key: string) => async (entry: CacheEntry, flight: Flight, ttl: number) => {
    if (flight.token === null) return;
    try {
      if (!(await tier.storeIfCurrent(key, flight.token, encodeEntry(entry), ttl))) metrics.staleLoad.inc();
    } catch (error) {
      report(error, { op: 'store', keys: [key] });
    }
  };
  // A load that landed, kept for a moment: a reader whose token request left before the load landed
  // (and so found neither the stored value nor the flight, which ended meanwhile) joins its result if
  // it holds the same generation token (nothing was evicted in between) instead of loading again.
  // Readers that ask after the landing never join: they read the stored value, or load afresh once it
  // expired. `tick` orders token requests and landings within this process.
  let tick = 0;
  const landed = new Map<string, { readonly token: string; readonly at: number; readonly promise: Promise<CacheEntry> }>();
  const LANDED_MS = 1000;
  const remember = (key: string, token: string, promise: Promise<CacheEntry>) => {
    const forget = () => {
      if (landed.get(key)?.promise === promise) landed.delete(key);
    };
    promise.then(() => {
      landed.set(key, { token, at: ++tick, promise });
      setTimeout(forget, LANDED_MS).unref();
    }, forget);
    return promise;
  };
  return {
    mode: 'redis',
    namespace,
    ready: () => tier.ready(),
    async getOrLoad(key, loader) {
      checkKey(key);
      if (!tier.usable()) return fallback(key, loader);
      let value: Buffer | null;
      try {
        value = await tier.get(key);
      } catch (error) {
        report(error, { op: 'get', keys: [key] });
        return fallback(key, loader);
      }
      const hit = value === null ? null : decodeEntry(value);
      if (hit !== null) {
        metrics.hitRedis.inc();
        return hit;
      }
      let answer: Awaited<ReturnType<RedisTier['readOrToken']>>;
      const asked = ++tick;
      try {
        answer = await tier.readOrToken(key);
      } catch (error) {
        report(error, { op: 'load', keys: [key] });
        return fallback(key, loader);
      }
      if ('value' in answer) {
        const late = decodeEntry(answer.value);
        if (late !== null) {
          metrics.hitRedis.inc();
          return late;
        }
      }
      metrics.miss.inc();
      const token = 'token' in answer ? answer.token : null;
      // Join a load only if it began under the generation this reader just saw: a load begun before
      // an eviction that completed before this read began may hold the old document.
      const flight = flights.get(key);
      if (token !== null && flight?.token === token) return flight.promise;
      const last = landed.get(key);
      if (token !== null && last?.token === token && asked < last.at) return last.promise;
      // A generation this miss created goes again if the load fails: a read of a key with nothing to load
      // (an unknown restaurant's menu, a 404) must not leave a key in Redis for its lifetime.
      const created = 'token' in answer && answer.created ? answer.token : null;
      const release =
        created === null
          ? undefined
          : () =>
              tier.releaseToken(key, created).catch((error: unknown) => {
                report(error, { op: 'load', keys: [key] });
              });
      const started = startFlight(key, token, loader, storeInRedis(key), release);
      return token === null ? started : remember(key, token, started);
    },
    async evict(keys) {
      const list = keyList(keys);
      if (list.length === 0) return;
      metrics.evictLocal.inc(list.length);
      detach(list);
      await tier.evict(list);
    },
    async close() {
      closed = true;
      await tier.close();
    },
  };
}
