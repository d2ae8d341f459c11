import { createHash } from 'node:crypto';
import pg from 'pg';
import { configureGroupCommit } from './groupCommit.ts';
import { nameDatabaseSetting } from './databaseUnavailable.ts';
import { ConnectingClient } from './connectingClient.ts';
import { databaseAddress } from './databaseAddress.ts';
import { endPools, type CutPool } from './endPools.ts';

export { databaseAddress };

/** Options for {@link createDatabases}. */
export interface DatabasesOptions {
  /** Connection string of the main database. */
  readonly url: string;
  /** Connection string of the main database's read replica; its pool is labelled `replica`. */
  readonly replicaUrl?: string | null;
  /** Per-service connection strings (database-per-service); other services use {@link url}. */
  readonly serviceUrls?: Readonly<Record<string, string>>;
  /** Connections per pool. */
  readonly poolSize: number;
  /**
   * How long, in ms, a caller of the main database's pool, a service's own or a restaurant's dedicated
   * one waits for a connection (and for a new one to open) before it fails: `DATABASE_BUSY` (503, retry)
   * from a unit of work when every connection was in use (`acquireClient`), `DATABASE_UNAVAILABLE` (503,
   * retry) when a new one did not open in time (its failure marked as a connection attempt's,
   * `connectFailureOf`, so that a command can say that nothing answered there). Absent: the main and the
   * services' pools wait as long as it takes, a dedicated one {@link PLACED_CONNECT_TIMEOUT_MS} (tests);
   * the server and every CLI command give `DATABASE_ACQUIRE_TIMEOUT_MS`. The replica keeps its own.
   */
  readonly acquireTimeoutMs?: number;
  /** Group-commit batches in flight per pool (`configureGroupCommit`). Default `DEFAULT_GROUP_COMMIT.maxInFlight` (2). */
  readonly commitsInFlight?: number;
  /** `application_name` shown in `pg_stat_activity`. Default `brigade`. */
  readonly applicationName?: string;
  /**
   * Where the operator finds the main database, in `DATABASE_UNAVAILABLE`'s advice. Default
   * `DATABASE_URL`; the embedded PostgreSQL (no `DATABASE_URL` set) is described instead.
   */
  readonly mainSetting?: string;
}

/**
 * How long a connection to a database that is neither configured nor the replica (a tenant's dedicated
 * one, met through the placement catalog) may take to open when no `acquireTimeoutMs` is given: a
 * database that hangs must not keep a connection attempt pending for the kernel's timeout behind every
 * read and worker that asks for it. With one (the server, the commands), it takes that, as the
 * configured databases do.
 */
const PLACED_CONNECT_TIMEOUT_MS = 5000;
/** How long a connection to the read replica may take to open before its read goes to the primary. */
const REPLICA_CONNECT_TIMEOUT_MS = 2000;
/** How long a read on the replica may take before it is given up there (the replica's reads answer clients at once). */
const REPLICA_QUERY_TIMEOUT_MS = 10_000;

/** The process's pools: exactly one per distinct database URL, shared by every service that uses it. */
export interface Databases {
  /** The pool a service's transactions run on. */
  poolFor(service: string): pg.Pool;
  /** The pool for a URL, created on first use (tenant placements point at other databases). */
  poolForUrl(url: string): pg.Pool;
  /**
   * Every pool with a label for metrics, logs and commands: `main`, `replica`, the service names that
   * share a `<SERVICE>_DATABASE_URL`, or for any other database (a tenant's dedicated one) the stable
   * {@link databaseLabel} of its URL. Never a connection string.
   */
  list(): ReadonlyArray<{ readonly label: string; readonly pool: pg.Pool }>;
  /** The label of a pool of this registry ({@link Databases.list}); `undefined` for a pool it did not make. */
  labelOf(pool: pg.Pool): string | undefined;
  /**
   * Ends every pool ({@link endPools}): idle connections at once, those in use as they are released,
   * but no longer than `deadlineMs` (default `END_POOLS_DEADLINE_MS`, 5 s): those still in use then
   * are cut (their backends cancelled, their sockets closed). Returns the pools that were cut, none
   * when every connection came back in time; a caller that shuts a process down says so.
   */
  close(options?: { readonly deadlineMs?: number }): Promise<CutPool[]>;
}

/**
 * Creates the pool registry. One pool per database, however many services point at it, so the
 * dense default (every service in one database) holds exactly `poolSize` connections.
 *
 * @example
 * const dbs = createDatabases({ url: config.databaseUrl, poolSize: config.poolSize });
 * const pool = dbs.poolFor('menu');
 */
export function createDatabases(options: DatabasesOptions): Databases {
  const pools = new Map<string, { label: string; pool: pg.Pool }>();
  const serviceUrls = options.serviceUrls ?? {};
  /** How long a caller of the pool of `url` waits for a connection, and for a new one to open. */
  const timeoutsFor = (url: string): pg.PoolConfig => {
    // The main database and the services' own: a pool that background workers hold, or a burst it
    // cannot serve, answers 503 DATABASE_BUSY after acquireTimeoutMs instead of holding requests for ever.
    // Checked before the replica's: a replica URL that is also one of these (loadConfig refuses it) must
    // not give the primary's pool the replica's 2 s connect and 10 s query timeouts.
    if (url === options.url || Object.values(serviceUrls).includes(url)) return options.acquireTimeoutMs === undefined ? {} : { connectionTimeoutMillis: options.acquireTimeoutMs };
    // A standby that hangs must not hold reads for the kernel's connect timeout: they go to the primary.
    // A read the standby stops answering fails after REPLICA_QUERY_TIMEOUT_MS and runs on the primary.
    if (url === options.replicaUrl) return { connectionTimeoutMillis: REPLICA_CONNECT_TIMEOUT_MS, query_timeout: REPLICA_QUERY_TIMEOUT_MS };
    // A restaurant's dedicated database waits as long as the configured ones (it used to wait a fixed 5 s).
    return { connectionTimeoutMillis: options.acquireTimeoutMs ?? PLACED_CONNECT_TIMEOUT_MS };
  };
  const poolForUrl = (url: string, label = labelFor(url)): pg.Pool => {
    let entry = pools.get(url);
    if (entry === undefined) {
      const pool = new pg.Pool({
        connectionString: url,
        max: options.poolSize,
        application_name: options.applicationName ?? 'brigade',
        idleTimeoutMillis: 30_000,
        // Its failures to connect say where to and how long they were given (`connectFailureOf`).
        Client: ConnectingClient,
        ...timeoutsFor(url),
      });
      // An idle client that loses its connection emits on the pool; a checked-out one emits on itself
      // (its query, if any, rejects as well). Without listeners either kills the process, e.g. when
      // the server shuts down first; pg-pool drops a broken client when it is released.
      pool.on('error', () => undefined);
      pool.on('connect', (client) => client.on('error', () => undefined));
      if (options.commitsInFlight !== undefined) configureGroupCommit(pool, { maxInFlight: options.commitsInFlight });
      nameDatabaseSetting(pool, settingOf(url, label));
      entry = { label, pool };
      pools.set(url, entry);
    }
    return entry.pool;
  };
  const labelFor = (url: string): string => poolLabel(url, options);
  /** Where the operator finds the database of `url` (DATABASE_UNAVAILABLE's advice): its setting, never the URL. */
  const settingOf = (url: string, label: string): string => {
    if (url === options.url) return options.mainSetting ?? 'DATABASE_URL';
    if (url === options.replicaUrl) return 'DATABASE_REPLICA_URL';
    const services = Object.entries(serviceUrls).filter(([, u]) => u === url).map(([s]) => `${s.toUpperCase()}_DATABASE_URL`);
    return services.length > 0 ? services.join(' / ') : `the restaurant database ${label} (brigade tenants list shows which)`;
  };
  poolForUrl(options.url, 'main');
  return {
    poolFor: (service) => poolForUrl(serviceUrls[service] ?? options.url),
    poolForUrl: (url) => poolForUrl(url),
    list: () => [...pools.values()],
    labelOf: (pool) => [...pools.values()].find((entry) => entry.pool === pool)?.label,
    close: async (closing) => {
      const all = [...pools.values()];
      pools.clear();
      return endPools(all, closing);
    },
  };
}

/**
 * The label of the pool of `url` in a registry made with `options` ({@link Databases.list}): `main`,
 * the services whose `<SERVICE>_DATABASE_URL` it is (joined with `+`), `replica`, else
 * {@link databaseLabel}. What metrics, logs, commands and the pool-size check name a database by.
 *
 * @example
 * poolLabel('postgres://db/menu', { url: 'postgres://db/main', serviceUrls: { menu: 'postgres://db/menu' } }) // 'menu'
 */
export function poolLabel(url: string, options: Pick<DatabasesOptions, 'url' | 'replicaUrl' | 'serviceUrls'>): string {
  if (url === options.url) return 'main';
  const services = Object.entries(options.serviceUrls ?? {}).filter(([, u]) => u === url).map(([s]) => s);
  if (services.length > 0) return services.join('+');
  // After the primaries: a pool that is one of theirs is labelled as theirs, whatever else names it.
  if (url === options.replicaUrl) return 'replica';
  return databaseLabel(url);
}

/**
 * The label of a database that is neither the main one, its replica nor a service's own (a tenant's
 * dedicated database, decision 0008): `db-` and 8 hex digits of the SHA-256 of `host:port/database`,
 * read from the connection string, never its user or password. Every process names a database alike
 * whatever it met first (the server's `database` metric label, the CLI's database column), and the
 * label names the database, not where a process found it (`db1` used to depend on the order).
 *
 * @example
 * databaseLabel('postgres://app:secret@db-eu-1:5432/brand_a') // 'db-' + 8 hex digits, the same in every process
 */
export function databaseLabel(url: string): string {
  return `db-${createHash('sha256').update(databaseAddress(url)).digest('hex').slice(0, 8)}`;
}
