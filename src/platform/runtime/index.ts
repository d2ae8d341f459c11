import type { FastifyPluginAsync } from 'fastify';
import type client from 'prom-client';
import type { TokenService } from '../auth/index.ts';
import type { Cache } from '../cache/index.ts';
import type { Transport } from '../messaging/index.ts';
import type { Config } from '../config/index.ts';
import type { Databases } from '../db/index.ts';
import type { CommitStatementsFn, UnitOfWorkFn } from '../tenancy/index.ts';

/** What the composition root hands every service: only the shared infrastructure, never another service. */
export interface ServiceDeps {
  readonly config: Config;
  readonly databases: Databases;
  /** `unitOfWork(context, fn)`: one transaction, routed to the tenant's database. */
  readonly unitOfWork: UnitOfWorkFn;
  /** `commitStatements(context, statements)`: statements known up front, one transaction, one round trip, routed like `unitOfWork`. */
  readonly commitStatements: CommitStatementsFn;
  readonly tokens: TokenService;
  readonly metrics: client.Registry;
  /**
   * A cache-aside cache for a namespace: Redis when REDIS_URL is set, else in-process; TTL from
   * CACHE_TTL_SECONDS. Closed with the platform. `null` when caching is off (CACHE_TTL_SECONDS=0).
   */
  readonly createCache: (namespace: string) => Cache | null;
  /** The message transport: NATS JetStream when NATS_URL is set, else the PostgreSQL transport. */
  readonly transport: Transport;
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
  /** Long-running loops `brigade worker` and `brigade start` run; each stops when `signal` aborts. */
  readonly workers?: ReadonlyArray<{ readonly name: string; run(deps: ServiceDeps, signal: AbortSignal): Promise<void> }>;
}

export { sleep } from './sleep.ts';
export { createWakeup, type Wakeup } from './createWakeup.ts';
export { wakeableSleep, type WakeableSleep } from './wakeableSleep.ts';
export { takeTurns, type Turns } from './takeTurns.ts';
export { warnEveryMinute } from './warnEveryMinute.ts';
export { announceWork, waitForWork } from './workWakeups.ts';
