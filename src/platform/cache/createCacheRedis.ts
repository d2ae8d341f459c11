import { Redis, type RedisOptions } from 'ioredis';

/**
 * ioredis options that make a dead or slow Redis cost a read almost nothing: no offline queue (a
 * command while disconnected fails at once instead of waiting), a short command timeout for a
 * half-open connection, one retry at most, and reconnection forever with a capped backoff so the
 * cache recovers by itself when Redis returns. Pass your own instance built with these if you
 * share one; `createCache({ redis: url })` uses them.
 */
export const cacheRedisOptions = Object.freeze({
  enableOfflineQueue: false,
  commandTimeout: 250,
  connectTimeout: 1000,
  maxRetriesPerRequest: 1,
  retryStrategy: (times: number) => Math.min(50 * times, 1000),
} satisfies RedisOptions);

/**
 * Opens an ioredis client for the cache with {@link cacheRedisOptions}.
 *
 * @param url - `redis://` or `rediss://` URL (Config.redisUrl).
 * @param overrides - e.g. `{ commandTimeout: 100 }`.
 * @example
 * const redis = createCacheRedis(config.redisUrl);
 */
export function createCacheRedis(url: string, overrides: Partial<RedisOptions> = {}): Redis {
  return new Redis(url, { ...cacheRedisOptions, ...overrides });
}
