import type { Config, HeldConnections } from '../platform/config/index.ts';
import { poolLabel } from '../platform/db/createDatabases.ts';

/** What a process runs, as `brigade start`, `serve` and `worker` choose it. */
export interface ProcessRun {
  /** Whether it serves HTTP. */
  readonly http: boolean;
  /** The services whose routes it serves. */
  readonly services: ReadonlyArray<{ readonly name: string }>;
  /** The workers it runs, each with what it keeps a connection of its service's pool for, if anything. */
  readonly workers: ReadonlyArray<{ readonly service: string; readonly name: string; readonly keepsConnection?: string }>;
}

/**
 * The connections a process keeps for as long as it runs, per database it knows at start-up (the main
 * one and each `<SERVICE>_DATABASE_URL`): what `checkPoolSize` weighs `DATABASE_POOL_SIZE` against.
 * Counted as if the process led everything it runs: another process may lead a relay or a projection
 * now, and this one takes over whenever that one stops.
 * - each worker with `keepsConnection`, on its service's pool: each outbox relay's leader lock
 *   (`createRelay`) and each order-view projector's (`runProjection`);
 * - with the PostgreSQL transport (no `NATS_URL`) and any worker: the transport's LISTEN, on the platform's pool;
 * - with HTTP and ordering's routes: the order views' LISTEN, opened by the first board stream or
 *   `?after=` wait, on ordering's pool;
 * - with HTTP, menu's routes and the in-process cache (no `REDIS_URL`, `CACHE_TTL_SECONDS` not 0): the
 *   cache's eviction LISTEN (`createPgEvictionBus`), opened by the first menu read, on the platform's pool.
 *
 * With every service in one database, `brigade start` keeps 11 (10 with NATS; one less with Redis). A tenant's dedicated
 * database (decision 0008) keeps fewer in its own pool: no delivery relay, no transport LISTEN.
 * `test/composition/heldConnections.int.test.ts` checks the count against the sessions that
 * `brigade start`'s workers hold in PostgreSQL.
 *
 * @example
 * checkPoolSize(config, heldConnections(config, { http: true, services: SERVICES, workers: workersOf(SERVICES) }));
 */
export function heldConnections(config: Pick<Config, 'databaseUrl' | 'natsUrl' | 'redisUrl' | 'cacheTtlSeconds' | 'serviceDatabaseUrls'>, run: ProcessRun): HeldConnections[] {
  // The main database's URL is not known before an embedded server starts; any key that no service URL equals will do.
  const main = config.databaseUrl ?? '';
  const urlOf = (service: string) => config.serviceDatabaseUrls[service] ?? main;
  const counts = new Map<string, Map<string, number>>();
  const add = (service: string, what: string) => {
    const url = urlOf(service);
    const holders = counts.get(url) ?? new Map<string, number>();
    holders.set(what, (holders.get(what) ?? 0) + 1);
    counts.set(url, holders);
  };
  for (const worker of run.workers) if (worker.keepsConnection !== undefined) add(worker.service, worker.keepsConnection);
  if (config.natsUrl === null && run.workers.length > 0) add('platform', LISTENS.bus);
  if (run.http && run.services.some((s) => s.name === 'ordering')) add('ordering', LISTENS.views);
  if (run.http && config.redisUrl === null && config.cacheTtlSeconds > 0 && run.services.some((s) => s.name === 'menu')) add('platform', LISTENS.cache);
  // Listed in one order whatever order the workers come in: the workers' groups by name, then the LISTENs.
  const rank = (what: string) => (Object.values(LISTENS) as string[]).indexOf(what);
  const ordered = (holders: Map<string, number>) => [...holders].sort(([a], [b]) => rank(a) - rank(b) || a.localeCompare(b)).map(([what, count]) => ({ what, count }));
  return [...counts].map(([url, holders]) => ({ database: poolLabel(url, { url: main, serviceUrls: config.serviceDatabaseUrls }), holders: ordered(holders) }));
}

/** The connections a process keeps for a LISTEN, beside its workers' (`ServiceWorker.keepsConnection`). */
const LISTENS = {
  bus: 'bus LISTEN (PostgreSQL transport)',
  views: 'order views LISTEN (board streams and ?after= waits)',
  cache: 'cache evictions LISTEN (in-process cache, no REDIS_URL)',
} as const;
