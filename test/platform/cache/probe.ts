/**
 * A tiny "menu" for the cache tests: one price per tenant in a real table of the test database,
 * written through unitOfWork with the eviction in afterCommit, as the menu service will do.
 */
import type { Redis } from 'ioredis';
import pg from 'pg';
import type client from 'prom-client';
import { unitOfWork } from '../../../src/platform/db/index.ts';
import { createCacheRedis, type Cache, type CacheEntry } from '../../../src/platform/cache/index.ts';

export interface Probe {
  readonly pool: pg.Pool;
  readPrice(tenant: string): Promise<number>;
  /** Sets the price in one transaction; evicts `tenant` from each cache after commit. */
  writePrice(tenant: string, price: number, caches: readonly Cache[]): Promise<void>;
  /** A loader that reads the price and serialises it, counting its calls in `counter.n`. */
  loader(tenant: string, counter?: { n: number }): () => Promise<{ body: string; etag: string }>;
  close(): Promise<void>;
}

export async function createProbe(url: string, options: { setup?: boolean } = {}): Promise<Probe> {
  const pool = new pg.Pool({ connectionString: url, max: 4, application_name: 'cache-probe' });
  if (options.setup === true) {
    await pool.query(`create table if not exists menu.cache_probe (tenant_id uuid primary key, price int not null);
                      grant select, insert, update on menu.cache_probe to brigade_menu`);
  }
  const readPrice = async (tenant: string) => {
    const { rows } = await pool.query<{ price: number }>('select price from menu.cache_probe where tenant_id = $1', [tenant]);
    return rows[0]?.price ?? 0;
  };
  return {
    pool,
    readPrice,
    writePrice: (tenant, price, caches) =>
      unitOfWork(pool, { service: 'menu', tenantId: tenant }, async (tx) => {
        await tx.query(
          `insert into menu.cache_probe (tenant_id, price) values ($1, $2)
           on conflict (tenant_id) do update set price = excluded.price`,
          [tenant, price],
        );
        for (const cache of caches) tx.afterCommit(() => cache.evict(tenant));
      }),
    loader: (tenant, counter) => async () => {
      if (counter) counter.n += 1;
      const price = await readPrice(tenant);
      return { body: JSON.stringify({ tenant, price }), etag: `"p${price}"` };
    },
    close: () => pool.end(),
  };
}

/** The price inside a cached body. */
export function priceOf(entry: { body: Buffer }): number {
  return (JSON.parse(entry.body.toString('utf8')) as { price: number }).price;
}

/**
 * A Redis client for tests of the cache's semantics (hits, eviction, single-flight): the platform's
 * options, but a command timeout of 10 s instead of 250 ms. On a loaded CI machine a 250 ms stall is
 * ordinary, and it would send reads to the loader (degraded mode, covered by cacheDegraded.int.test.ts),
 * which these tests would take for a miss. The caller quits it (the cache does not own it).
 */
export function patientRedis(url: string): Redis {
  return createCacheRedis(url, { commandTimeout: 10_000 });
}

/**
 * A read of `tenant` on `cache` whose load pauses right after its SELECT: `selected` resolves once it
 * has read the price, and the load returns only after `release()`. For tests that force an eviction
 * into a load.
 */
export function pausedRead(cache: Cache, probe: Probe, tenant: string): { result: Promise<CacheEntry>; selected: Promise<void>; release: () => void } {
  const selected = deferred();
  const released = deferred();
  const result = cache.getOrLoad(tenant, async () => {
    const price = await probe.readPrice(tenant);
    selected.resolve();
    await released.promise;
    return { body: JSON.stringify({ tenant, price }), etag: `"p${price}"` };
  });
  return { result, selected: selected.promise, release: () => released.resolve() };
}

/** A promise with its resolve exposed, to pause a loader at a chosen point. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Sum of a metric's samples whose labels include `labels`. */
export async function metricValue(registry: client.Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return 0;
  const { values } = await metric.get();
  return values
    .filter((v) => Object.entries(labels).every(([k, x]) => (v.labels as Record<string, unknown>)[k] === x))
    .filter((v) => {
      // Histograms: count only the _count sample, not buckets and sum.
      const sample = (v as { metricName?: string | null }).metricName;
      return sample == null || sample === name || sample.endsWith('_count');
    })
    .reduce((sum, v) => sum + v.value, 0);
}
