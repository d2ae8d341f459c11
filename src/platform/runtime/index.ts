import type { FastifyPluginAsync } from 'fastify';
import type client from 'prom-client';
import type { Principal, TokenService } from '../auth/index.ts';
import type { Cache } from '../cache/index.ts';
import type { SubscriptionSpec, Transport } from '../messaging/index.ts';
import type { Config } from '../config/index.ts';
import type { Databases } from '../db/index.ts';
import type { CommitStatementsFn, TenantRouter, UnitOfWorkFn } from '../tenancy/index.ts';

/** What the composition root hands every service: only the shared infrastructure, never another service. */
export interface ServiceDeps {
  readonly config: Config;
  readonly databases: Databases;
  /** `unitOfWork(context, fn)`: one transaction, routed to the tenant's database. */
  readonly unitOfWork: UnitOfWorkFn;
  /** `commitStatements(context, statements)`: statements known up front, one transaction, one round trip, routed like `unitOfWork`. */
  readonly commitStatements: CommitStatementsFn;
  readonly tokens: TokenService;
  /**
   * A key of the deployment's own for `purpose`, derived from the token secret (`deriveKeys`): for a
   * keyed hash of what the database keeps (a sign-in attempt's e-mail address) that nobody without the
   * secret can recompute. The same in every process that shares `BRIGADE_SECRET`; a rotated secret
   * gives other keys.
   */
  readonly deriveKey: (purpose: string) => Buffer;
  /**
   * The check the app runs on every verified token (`checkPrincipal` of `buildApp`, the same function):
   * it refuses a token revoked since it was signed by throwing a 401 (`TOKEN_REVOKED`), and any other
   * error means only that it could not tell (the database unavailable). A route whose answer outlives
   * its request's start (the board's stream) runs it again now and then, so a revocation reaches it too.
   */
  readonly checkPrincipal: (principal: Principal) => Promise<void>;
  readonly metrics: client.Registry;
  /**
   * A cache-aside cache for a namespace: Redis when REDIS_URL is set, else in-process; TTL from
   * CACHE_TTL_SECONDS. Closed with the platform. `null` when caching is off (CACHE_TTL_SECONDS=0).
   */
  readonly createCache: (namespace: string) => Cache | null;
  /** The message transport: NATS JetStream when NATS_URL is set, else the PostgreSQL transport. */
  readonly transport: Transport;
  /**
   * The tenants' databases beyond the shared one (decision 0008): reads across tenants run on each
   * (`findInEveryDatabase`), reads of several tenants that live apart leave out one that fails
   * (`readEachTenant`), background work serves each (`onDatabase`, see {@link ServiceWorker.everyDatabase}),
   * and a tenant's database is found for what needs its pool (`poolOfTenant`: a LISTEN, a wait; or
   * `placementOf`, where a routed transaction of the tenant just ran).
   */
  readonly placements: Pick<TenantRouter, 'dedicatedDatabases' | 'findInEveryDatabase' | 'onDatabase' | 'placementOf' | 'poolOfTenant' | 'readEachTenant'>;
  /**
   * In an instance of an {@link ServiceWorker.everyDatabase} worker that serves a dedicated database:
   * that database's short name (its pool's label, `db-` and 8 hex digits: `databaseLabel`), for logs and metric labels. Absent for
   * the shared database and everywhere else.
   */
  readonly placement?: string;
  /**
   * In the same instances as {@link placement}: the dedicated database's connection string, and the
   * process's own databases, unrouted (`shared`: where its restaurant lived before it moved). An outbox
   * relay there first waits for the shared relay to publish what the restaurant wrote before its move
   * (decision 0008). Absent for the shared database and everywhere else.
   */
  readonly dedicated?: { readonly url: string; readonly shared: Databases };
}

/** A long-running loop of a service: `brigade worker` and `brigade start` run it until `signal` aborts. */
export interface ServiceWorker {
  readonly name: string;
  run(deps: ServiceDeps, signal: AbortSignal): Promise<void>;
  /**
   * Serves the tenants of every database: one instance runs with the process's dependencies and one
   * more for each dedicated database of the placement catalog (started within a second or so of a
   * move), with `deps` whose `databases.poolFor(service)` and whose transactions of the service
   * without a tenant go to that database. For work kept in tenant tables of the database it reads:
   * outbox relays, projectors, saga runners. Default: one instance.
   */
  readonly everyDatabase?: boolean;
  /**
   * Set when the worker keeps one connection of its service's pool for as long as it runs (a leader's
   * session lock, a LISTEN): the group it is counted in when `checkPoolSize` weighs `DATABASE_POOL_SIZE`
   * against what the process keeps, e.g. `projections (leader lock)`. Absent: it only borrows connections.
   */
  readonly keepsConnection?: string;
}

/**
 * What a service contributes to the process: its migrations, its HTTP routes (one encapsulated
 * Fastify plugin, mounted under `/v1`) and its background workers. The composition root collects
 * these; the platform itself never imports a service.
 */
export interface ServiceModule {
  /** Lower-case name; also its schema (`<name>`) and its role (`brigade_<name>`). */
  readonly name: string;
  /** Folder of its `NNNN_name.sql` migrations, or absent when it has none. */
  readonly migrationsDir?: string;
  /** Its routes, registered with the shared dependencies. */
  readonly routes?: FastifyPluginAsync<{ deps: ServiceDeps }>;
  /** The schema of its saga store (`saga_instances`, `saga_log`, `saga_deadlines`) when it runs sagas; `brigade sagas` reads it. */
  readonly sagaSchema?: string;
  /**
   * The saga types its runners hold (the names in its saga registry): `brigade sagas list --stuck`
   * names an unfinished saga of any other type as one that no runner takes (a type retired from the
   * code, its rows left in the table). Absent: the list does not check types.
   */
  readonly sagaTypes?: readonly string[];
  /** Long-running loops `brigade worker` and `brigade start` run; each stops when `signal` aborts. */
  readonly workers?: readonly ServiceWorker[];
  /**
   * The durable subscriptions its workers consume. A subscription gets the messages published after
   * its creation (decision 0015), so every relay creates all services' before it first publishes: a
   * message relayed by `brigade serve` while no worker of this service has ever run still waits for it.
   */
  readonly subscriptions?: readonly SubscriptionSpec[];
  /**
   * Its tenant rows stay in the shared database when a tenant moves to a dedicated one (decision 0008):
   * the move leaves its schema alone, and its transactions are never routed by placement. Delivery:
   * a dispatch claims a restaurant's job and a courier, who serves every restaurant, in one transaction.
   */
  readonly tenantRowsStayShared?: boolean;
}

export { sleep } from './sleep.ts';
export { runRetentionPasses, type RetentionPassesOptions } from './runRetentionPasses.ts';
export { countRetentionDeletes } from './countRetentionDeletes.ts';
export { createWakeup, type Wakeup } from './createWakeup.ts';
export { wakeableSleep, type WakeableSleep } from './wakeableSleep.ts';
export { takeTurns, type Turns } from './takeTurns.ts';
export { warnEveryMinute } from './warnEveryMinute.ts';
export { withDeadline } from './withDeadline.ts';
export { shareInFlight } from './shareInFlight.ts';
export { announceWork, waitForWork } from './workWakeups.ts';
export { depsForDatabase, runOnEveryDatabase, PLACEMENT_POLL_MS } from './runOnEveryDatabase.ts';
export { osUserName } from './osUserName.ts';
export { handOverSignals } from './handOverSignals.ts';
export { SHUTDOWN_SIGNALS } from './shutdownSignals.ts';
export { sharedCounter, sharedGauge, sharedHistogram } from './sharedMetric.ts';
