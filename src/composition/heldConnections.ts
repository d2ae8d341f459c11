import type { Config, HeldConnections } from '../platform/config/index.ts';
import { ORDER_VIEWS } from '../services/ordering/views/index.ts';
import { RELAY_WORKERS } from './services.ts';

/** What a process runs, as `brigade start`, `serve` and `worker` choose it. */
export interface ProcessRun {
  /** Whether it serves HTTP. */
  readonly http: boolean;
  /** The services whose routes it serves. */
  readonly services: ReadonlyArray<{ readonly name: string }>;
  /** The workers it runs. */
  readonly workers: ReadonlyArray<{ readonly service: string; readonly name: string }>;
}

/**
 * The connections a process keeps for as long as it runs, per database it knows at start-up (the main
 * one and each `<SERVICE>_DATABASE_URL`): what `checkPoolSize` weighs `DATABASE_POOL_SIZE` against.
 * Counted as if the process led everything it runs: another process may lead a relay or a projection
 * now, and this one takes over whenever that one stops.
 * - each outbox relay: its leader's session lock (`createRelay`), on its service's pool;
 * - each order-view projector (`ordering/projection-<view>`): its leader's session lock (`runProjection`),
 *   on ordering's pool;
 * - with the PostgreSQL transport (no `NATS_URL`) and any worker: the transport's LISTEN, on the platform's pool;
 * - with HTTP and ordering's routes: the order views' LISTEN, opened by the first board stream or
 *   `?after=` wait, on ordering's pool.
 *
 * With every service in one database, `brigade start` keeps 10 (9 with NATS). A tenant's dedicated
 * database (decision 0008) keeps fewer in its own pool: no delivery relay, no transport LISTEN.
 * `test/composition/heldConnections.int.test.ts` checks the count against the sessions that
 * `brigade start`'s workers hold in PostgreSQL.
 *
 * @example
 * checkPoolSize(config, heldConnections(config, { http: true, services: SERVICES, workers: workersOf(SERVICES) }));
 */
export function heldConnections(config: Pick<Config, 'databaseUrl' | 'natsUrl' | 'serviceDatabaseUrls'>, run: ProcessRun): HeldConnections[] {
  /** The service's database: its own URL, or `''` for the main one (embedded or `DATABASE_URL`; one pool per URL). */
  const urlOf = (service: string) => {
    const own = config.serviceDatabaseUrls[service];
    return own === undefined || own === config.databaseUrl ? '' : own;
  };
  // As the pools' labels (`createDatabases`): `main`, or the services that share a database of their own.
  const labelOf = (url: string) =>
    url === ''
      ? 'main'
      : Object.entries(config.serviceDatabaseUrls)
          .filter(([, u]) => u === url)
          .map(([service]) => service)
          .join('+');
  const counts = new Map<string, Map<string, number>>();
  const add = (service: string, what: (typeof KINDS)[number]) => {
    const url = urlOf(service);
    // Listed in one order whatever order the workers come in.
    const holders = counts.get(url) ?? new Map<string, number>(KINDS.map((kind) => [kind, 0]));
    holders.set(what, (holders.get(what) ?? 0) + 1);
    counts.set(url, holders);
  };
  const relays = new Set(RELAY_WORKERS.map((r) => `${r.service}/${r.name}`));
  const projectors = new Map(ORDER_VIEWS.all.map((p) => [`ordering/projection-${p.name}`, p.service]));
  for (const worker of run.workers) {
    const name = `${worker.service}/${worker.name}`;
    if (relays.has(name)) add(worker.service, 'outbox relays (leader lock)');
    const projected = projectors.get(name);
    if (projected !== undefined) add(projected, 'projections (leader lock)');
  }
  if (config.natsUrl === null && run.workers.length > 0) add('platform', 'bus LISTEN (PostgreSQL transport)');
  if (run.http && run.services.some((s) => s.name === 'ordering')) add('ordering', 'order views LISTEN (board streams and ?after= waits)');
  return [...counts].map(([url, holders]) => ({ database: labelOf(url), holders: [...holders].filter(([, count]) => count > 0).map(([what, count]) => ({ what, count })) }));
}

/** What keeps a connection, in the order a refusal lists them. */
const KINDS = ['outbox relays (leader lock)', 'projections (leader lock)', 'bus LISTEN (PostgreSQL transport)', 'order views LISTEN (board streams and ?after= waits)'] as const;
