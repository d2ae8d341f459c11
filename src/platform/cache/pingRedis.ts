import { Redis } from 'ioredis';

/** How long {@link pingRedis} waits for Redis by default: a start-up must not wait on it. */
export const REDIS_PING_TIMEOUT_MS = 1000;

/**
 * Whether Redis at `url` answers a PING within `timeoutMs`: `null` when it did, else why not (the
 * client's words, or that it did not answer in time). Never throws, and gives up on a server that takes
 * the connection and never answers. What `brigade start` and `serve` ask once at start-up: the cache
 * degrades to uncached reads without Redis (decision 0020), so an unreachable `REDIS_URL` does not
 * stop them, and without a word it is easy to miss.
 *
 * @example
 * const why = await pingRedis(config.redisUrl); // null, or "connect ECONNREFUSED 127.0.0.1:6379"
 */
export async function pingRedis(url: string, timeoutMs = REDIS_PING_TIMEOUT_MS): Promise<string | null> {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no answer within ${timeoutMs / 1000} s`), timeoutMs);
  });
  const answered = (async () => {
    await redis.connect();
    await redis.ping();
    return null;
  })().catch((error: unknown) => (error instanceof Error ? error.message : String(error)));
  try {
    return await Promise.race([answered, late]);
  } finally {
    clearTimeout(timer);
    redis.disconnect();
  }
}

/**
 * `host:port` of a Redis URL (port 6379 when none is given), never its user or password; `''` for a
 * URL that cannot be read.
 *
 * @example
 * redisAddress('redis://:secret@cache.internal/0') // 'cache.internal:6379'
 */
export function redisAddress(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.hostname}:${parsed.port === '' ? '6379' : parsed.port}`;
  } catch {
    return '';
  }
}
