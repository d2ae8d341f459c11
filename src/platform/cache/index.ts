export { createCache } from './createCache.ts';
export type { Cache, CacheOptions, Loader } from './createCache.ts';
export type { CacheEntry, CacheSource, LoadedValue } from './toCacheEntry.ts';
export type { CacheErrorContext } from './redisTier.ts';
export { createCacheRedis, cacheRedisOptions } from './createCacheRedis.ts';
export { CacheClosedError } from './errors.ts';
export { createPgEvictionBus, EVICTION_CHANNEL } from './createPgEvictionBus.ts';
export type { EvictionBusErrorContext, PgEvictionBus, PgEvictionBusOptions } from './createPgEvictionBus.ts';
export type { EvictionBus, EvictionSubscriber } from './evictionBus.ts';
