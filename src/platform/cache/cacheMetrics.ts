import type client from 'prom-client';
import { sharedCounter, sharedGauge, sharedHistogram } from '../runtime/sharedMetric.ts';

/** The children one cache increments; label values are bound once so a hit costs one `inc()`. */
export interface CacheMetrics {
  readonly hitMemory: client.Counter.Internal;
  readonly hitRedis: client.Counter.Internal;
  readonly miss: client.Counter.Internal;
  readonly fallback: client.Counter.Internal;
  readonly staleLoad: client.Counter.Internal;
  readonly oversized: client.Counter.Internal;
  readonly evictLocal: client.Counter.Internal;
  readonly evictRemote: client.Counter.Internal;
  readonly evictQueued: client.Gauge.Internal<string>;
  readonly evictReplayed: client.Counter.Internal;
  readonly redisUp: client.Gauge.Internal<string>;
  error(op: string): client.Counter.Internal;
  loadTimer(): (outcome: 'ok' | 'error') => void;
}

/**
 * Registers (or reuses, when another cache already did on the same registry) Brigade's cache
 * metrics, labelled `cache=<namespace>`:
 * - `brigade_cache_hits_total{cache,tier}` (tier `memory` | `redis`), `brigade_cache_misses_total`
 * - `brigade_cache_fallbacks_total`: reads served straight from the loader because Redis was unusable
 *   (in memory mode: because the eviction bus was not listening)
 * - `brigade_cache_stale_loads_total`: loads not stored because an eviction happened while they ran
 * - `brigade_cache_oversized_total`: loads not stored in memory because the entry is larger than the
 *   per-entry limit (an eighth of `CACHE_MAX_BYTES` by default): every read of such a key loads
 * - `brigade_cache_evictions_total{cache,origin}` (origin `local` | `remote`, i.e. a broadcast)
 * - `brigade_cache_evictions_queued`: keys whose eviction could not reach Redis and waits to be replayed;
 *   `brigade_cache_evictions_replayed_total`: keys whose queued eviction reached Redis later
 * - `brigade_cache_load_duration_seconds{cache,outcome}`, `brigade_cache_errors_total{cache,op}`,
 *   `brigade_cache_redis_up` (1 when Redis is ready and answering, 0 when degraded: disconnected, or
 *   connected but not answering in time, i.e. the breaker is open; absent in memory mode)
 */
export function createCacheMetrics(registry: client.Registry, cache: string): CacheMetrics {
  const counter = (name: string, help: string, labelNames: string[]) => sharedCounter(registry, { name, help, labelNames });
  const hits = counter('brigade_cache_hits_total', 'Cache reads answered by the cache, by tier (memory, redis)', ['cache', 'tier']);
  const misses = counter('brigade_cache_misses_total', 'Cache reads that went to the loader', ['cache']);
  const fallbacks = counter('brigade_cache_fallbacks_total', 'Reads served by the loader because Redis, or in memory mode the eviction LISTEN, was unusable (degraded mode)', ['cache']);
  const stale = counter('brigade_cache_stale_loads_total', 'Loads not stored because the key was evicted while they ran', ['cache']);
  const oversized = counter('brigade_cache_oversized_total', 'Loads not stored in the in-process cache because the entry is larger than its per-entry limit', ['cache']);
  const evictions = counter('brigade_cache_evictions_total', 'Keys evicted, by origin (local call, remote broadcast)', ['cache', 'origin']);
  const replayed = counter('brigade_cache_evictions_replayed_total', 'Keys whose queued eviction reached Redis once it took them again', ['cache']);
  const errors = counter('brigade_cache_errors_total', 'Cache backend errors by operation (reads never fail because of them)', ['cache', 'op']);
  const gauge = (name: string, help: string) => sharedGauge(registry, { name, help, labelNames: ['cache'] });
  const up = gauge('brigade_cache_redis_up', '1 when the cache can use Redis, 0 when it serves from the loader (Redis disconnected, or not answering in time)');
  const queued = gauge('brigade_cache_evictions_queued', 'Keys whose eviction could not reach Redis and waits to be replayed');
  const loads = sharedHistogram(registry, {
    name: 'brigade_cache_load_duration_seconds',
    help: 'Time the loader took on a miss, by outcome (ok, error)',
    labelNames: ['cache', 'outcome'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  });
  const errorChildren = new Map<string, client.Counter.Internal>();
  return {
    hitMemory: hits.labels(cache, 'memory'),
    hitRedis: hits.labels(cache, 'redis'),
    miss: misses.labels(cache),
    fallback: fallbacks.labels(cache),
    staleLoad: stale.labels(cache),
    oversized: oversized.labels(cache),
    evictLocal: evictions.labels(cache, 'local'),
    evictRemote: evictions.labels(cache, 'remote'),
    evictQueued: queued.labels(cache),
    evictReplayed: replayed.labels(cache),
    redisUp: up.labels(cache),
    error(op) {
      let child = errorChildren.get(op);
      if (child === undefined) errorChildren.set(op, (child = errors.labels(cache, op)));
      return child;
    },
    loadTimer() {
      const start = performance.now();
      return (outcome) => loads.labels(cache, outcome).observe((performance.now() - start) / 1000);
    },
  };
}
