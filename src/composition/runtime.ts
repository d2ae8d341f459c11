import type { FastifyInstance } from 'fastify';
import client from 'prom-client';
import { buildApp, type AppDeps, type Readiness } from '../api/index.ts';
import type { Config } from '../platform/config/index.ts';
import { boundedRead, createDatabases, DATABASE_BOUND_MARGIN_MS, createReplicaReads, isLocalTimeout, registerPoolMetrics, replicaRouteMetrics, startEmbeddedPostgres, type CutPool, type Databases, type EmbeddedDatabase } from '../platform/db/index.ts';
import { databaseAddress, databaseLabel, poolLabel } from '../platform/db/createDatabases.ts';
import { discoverMigrations, inspectMigrations, type MigrationFile, type MigrationSet } from '../platform/migrations/index.ts';
import { shareInFlight, withDeadline, type ServiceDeps, type ServiceModule } from '../platform/runtime/index.ts';
import { createTokenService, deriveKeys, loadOrCreateSecret } from '../platform/auth/index.ts';
import { createPlacementCatalog, createTenantRouter, type PlacementCatalog, type TenantRouter } from '../platform/tenancy/index.ts';
import { isStaleList } from '../platform/tenancy/placementCatalog.ts';
import { readPlacementCatalog } from '../platform/tenancy/readPlacementCatalog.ts';
import { listDedicatedRestaurants } from '../platform/tenancy/listDedicatedRestaurants.ts';
import { createCache, createPgEvictionBus, redisAddress, type Cache, type PgEvictionBus } from '../platform/cache/index.ts';
import {
  createNatsTransport,
  createNatsTransportInBackground,
  createPgTransport,
  registerClaimCheckMetrics,
  registerDeadLetterMetrics,
  withClaimCheck,
  type NatsTransportOptions,
  type Transport,
} from '../platform/messaging/index.ts';
import { unitOfWork } from '../platform/db/index.ts';
import { mintToken, recordAdminAudit, refuseRevokedTokens } from '../services/platform/index.ts';
import path from 'node:path';
import { offersDevLogin } from './offersDevLogin.ts';
import { SERVICES, SERVICE_NAMES, SHARED_SERVICE_NAMES, migrationSets } from './services.ts';

/** Where the database is: the configured URL, or the embedded server (started or joined). */
export interface DatabaseHandle {
  readonly url: string;
  readonly embedded: EmbeddedDatabase | null;
}

/** The embedded PostgreSQL's data directory inside `BRIGADE_HOME`. */
const EMBEDDED_DATA_DIR = 'pg';

/**
 * The embedded PostgreSQL as an operator finds it, for `DATABASE_UNAVAILABLE`'s advice when no
 * `DATABASE_URL` is set (it named that setting, which was not set). No path: the advice reaches API
 * clients in problem documents.
 */
const EMBEDDED_SETTING = `the embedded database (DATABASE_URL is not set; its log is ${EMBEDDED_DATA_DIR}.log in BRIGADE_HOME)`;

/** `createDatabases`' `mainSetting` for `db`: the embedded database described, else the default (`DATABASE_URL`). */
const mainSettingOf = (db: DatabaseHandle): { mainSetting?: string } => (db.embedded === null ? {} : { mainSetting: EMBEDDED_SETTING });

/**
 * The embedded PostgreSQL's data directory, `BRIGADE_HOME/pg` (absolute), when the main database is
 * that one; null when `DATABASE_URL` is set.
 */
export function embeddedDataDir(config: Config): string | null {
  return config.databaseUrl === null ? path.join(config.home, EMBEDDED_DATA_DIR) : null;
}

/**
 * Uses `DATABASE_URL`, or starts (or joins, or takes over) the embedded PostgreSQL under `BRIGADE_HOME/pg`,
 * saying what it does with it on `progress`: a command's stderr (decision 0003), so that its stdout is its
 * answer alone (`brigade migrate status | head`, `$(brigade tenants add …)`).
 */
export async function openDatabase(config: Config, progress: (line: string) => void): Promise<DatabaseHandle> {
  if (config.databaseUrl !== null) return { url: config.databaseUrl, embedded: null };
  const embedded = await startEmbeddedPostgres({ dir: path.join(config.home, EMBEDDED_DATA_DIR), onProgress: progress });
  return { url: embedded.url, embedded };
}

/** One database and the migration sets it takes: the main one, plus one per `<SERVICE>_DATABASE_URL`. */
export interface MigrationTarget {
  readonly url: string;
  readonly sets: readonly MigrationSet[];
}

/**
 * A CLI command's databases: the main one (embedded when no `DATABASE_URL` is set), and pools that
 * send each service to its `<SERVICE>_DATABASE_URL` as the server's do, so that a command reads the
 * tables the server writes. `close` ends the pools, then the embedded server. What is done with the
 * embedded server (initialised, started, joined, taken over from a killed brigade, stopped or left
 * running) is said on `progress`, the command's stderr: it used to be dropped, and a command took over
 * and stopped a server left running without a word.
 */
export async function openCommandDatabases(
  config: Config,
  poolSize: number,
  progress: (line: string) => void,
): Promise<{ readonly db: DatabaseHandle; readonly databases: Databases; close(): Promise<void> }> {
  const db = await openDatabase(config, progress);
  // A database that takes the connection and never answers fails the command after the time limit
  // (DATABASE_ACQUIRE_TIMEOUT_MS) instead of holding it for ever.
  const databases = createDatabases({ url: db.url, ...mainSettingOf(db), serviceUrls: config.serviceDatabaseUrls, poolSize, acquireTimeoutMs: config.databaseAcquireTimeoutMs, applicationName: 'brigade-cli' });
  return {
    db,
    databases,
    close: async () => {
      await databases.close();
      await db.embedded?.stop();
    },
  };
}

/**
 * A CLI command's tenant router over `databases` (from {@link openCommandDatabases}): each restaurant's
 * statements go to its placement, read from the catalog as `brigade-cli`, so a command reaches the
 * restaurants moved to a database of their own as the server does.
 */
export function commandTenantRouter(databases: Databases): TenantRouter {
  return createTenantRouter({ databases, catalog: createPlacementCatalog(() => readPlacementCatalog(databases, 'brigade-cli')), sharedServices: SHARED_SERVICE_NAMES });
}

/**
 * Database-per-service: every database gets the platform's set (schemas and roles) and the sets of
 * the services that live there. The platform service's own tables (tenants, the bus) live in its
 * database: `PLATFORM_DATABASE_URL`, else the main one.
 */
export function migrationTargets(config: Config, mainUrl: string): MigrationTarget[] {
  const [platform, ...rest] = SERVICES as [ServiceModule, ...ServiceModule[]];
  const byUrl = new Map<string, ServiceModule[]>([[config.serviceDatabaseUrls[platform.name] ?? mainUrl, [platform]]]);
  for (const service of rest) {
    const url = config.serviceDatabaseUrls[service.name] ?? mainUrl;
    if (!byUrl.has(url)) byUrl.set(url, [platform]);
    byUrl.get(url)?.push(service);
  }
  return [...byUrl].map(([url, services]) => ({ url, sets: migrationSets(services) }));
}

/** A migration target that readiness counts, with the label of the setting it comes from. */
export interface ServedMigrationTarget extends MigrationTarget {
  /**
   * `main` (`DATABASE_URL`, or the embedded database), else the services whose `<SERVICE>_DATABASE_URL`
   * it is, joined with `+` (`ordering`, `menu+ordering`): the pool's label (`poolLabel`), never its URL.
   */
  readonly label: string;
}

/**
 * The {@link migrationTargets} that a process serving `services` uses, each labelled by its setting: the
 * platform's database (`PLATFORM_DATABASE_URL`, else the main one: tenants, tokens, the bus), and each
 * served service's. Another service's own database is not among them: `brigade serve --service menu`
 * does not depend on ordering's, and must not go unready when it is down.
 *
 * @example
 * servedMigrationTargets(config, db.url, ['menu']).map((t) => t.label) // ['main'] with ORDERING_DATABASE_URL set
 */
export function servedMigrationTargets(config: Config, mainUrl: string, services: readonly string[]): ServedMigrationTarget[] {
  const urlOf = (service: string): string => config.serviceDatabaseUrls[service] ?? mainUrl;
  const used = new Set(['platform', ...services].map(urlOf));
  return migrationTargets(config, mainUrl)
    .filter((t) => used.has(t.url))
    .map((t) => ({ ...t, label: poolLabel(t.url, { url: mainUrl, serviceUrls: config.serviceDatabaseUrls }) }));
}

/** A tenant's dedicated database as a migration target: every set (as `brigade tenants move` migrated it), named by its label. */
export interface DedicatedMigrationTarget extends MigrationTarget {
  /** `databaseLabel(url)`: what progress lines and readiness checks show instead of the URL. */
  readonly label: string;
  /** `databaseAddress(url)`: host, port and database name (no user, no password), for an operator who must fix it. */
  readonly address: string;
  /** The restaurants placed there (one since platform migration 0018): whose database it is. */
  readonly restaurants: ReadonlyArray<{ readonly id: string; readonly name: string }>;
}

/**
 * The dedicated databases of the placement catalog (decision 0008) that are not already a target of
 * {@link migrationTargets}, each with every migration set: an upgrade migrates them too. Read from the
 * platform's database (as the platform service's admin, the one reader allowed to see the catalog's
 * connection strings); none while its migrations have not made the catalog yet.
 */
export async function dedicatedMigrationTargets(config: Config, mainUrl: string): Promise<DedicatedMigrationTarget[]> {
  const databases = createDatabases({ url: mainUrl, serviceUrls: config.serviceDatabaseUrls, poolSize: 1, acquireTimeoutMs: config.databaseAcquireTimeoutMs, applicationName: 'brigade-migrate' });
  try {
    const catalog = await databases.poolFor('platform').query<{ made: boolean }>(`select to_regclass('platform.tenant_placements') is not null as made`);
    if (catalog.rows[0]?.made !== true) return [];
    const known = new Set(migrationTargets(config, mainUrl).map((t) => t.url));
    const placed = await unitOfWork(databases.poolFor('platform'), { service: 'platform', actor: { kind: 'admin', id: 'brigade-migrate' }, readOnly: true }, listDedicatedRestaurants);
    return placed
      .filter((p) => !known.has(p.url))
      .map((p) => ({ url: p.url, label: databaseLabel(p.url), address: databaseAddress(p.url), restaurants: p.restaurants, sets: migrationSets() }));
  } finally {
    await databases.close();
  }
}

/** A running HTTP platform. */
export interface Platform {
  readonly app: FastifyInstance;
  readonly databases: Databases;
  readonly metrics: client.Registry;
  /** What every service got: handy for workers and tests. */
  readonly deps: ServiceDeps;
  /**
   * Stops HTTP (requests still open get `buildApp`'s grace, then their connections are closed), the
   * caches and the transport, then the pools: bounded (`Databases.close`), it returns the pools whose
   * connections still in use had to be cut, for the caller to say so and exit 1.
   */
  close(): Promise<CutPool[]>;
}

/**
 * Builds the app on the given database: pools, metrics, readiness (the platform's and the chosen
 * services' databases reachable, theirs and every dedicated database's migrations current), and the
 * chosen services' routes.
 */
export async function createPlatform(
  config: Config,
  db: DatabaseHandle,
  options: {
    services?: readonly ServiceModule[];
    logger: AppDeps['logger'];
    embedded?: boolean;
    /**
     * The process runs no relay, consumer or saga (`brigade serve`): with `NATS_URL`, the broker is
     * connected in the background ({@link createTransportInBackground}) instead of before the app is
     * built, and readiness shows it (`nats`) without counting it. Its one use here, an admin's redrive of
     * dead letters, answers 503 until it is connected.
     */
    brokerOptional?: boolean;
  },
): Promise<Platform> {
  const metrics = new client.Registry();
  client.collectDefaultMetrics({ register: metrics, prefix: 'brigade_' });
  const databases = createDatabases({
    url: db.url,
    ...mainSettingOf(db),
    replicaUrl: config.databaseReplicaUrl,
    serviceUrls: config.serviceDatabaseUrls,
    poolSize: config.poolSize,
    acquireTimeoutMs: config.databaseAcquireTimeoutMs,
    commitsInFlight: config.commitsInFlight,
  });
  const caches: Cache[] = [];
  // Without Redis the caches are in-process: their evictions reach the other processes on the database
  // through NOTIFY on the platform's database, which every instance shares (decision 0020).
  let evictions: PgEvictionBus | undefined;
  const closeCaches = async () => {
    await Promise.all(caches.map((c) => c.close()));
    await evictions?.close();
  };
  let transport: Transport | undefined;
  try {
    registerPoolMetrics(metrics, databases);
    // Readiness counts the platform's database and the served services' own, not another service's.
    const served = options.services ?? SERVICES;
    const targets = await Promise.all(
      servedMigrationTargets(config, db.url, served.map((s) => s.name)).map(async (t) => ({ url: t.url, label: t.label, files: await discoverMigrations(t.sets) })),
    );
    // Every configured database, served or not, is told apart from a restaurant's dedicated one.
    const configured = new Set(migrationTargets(config, db.url).map((t) => t.url));
    // A tenant's dedicated database takes every set (decision 0008).
    const dedicatedFiles = await discoverMigrations(migrationSets());
    const secret = await loadOrCreateSecret(config.secret, config.home);
    const tokens = createTokenService(secret);
    if (config.secret === null && config.databaseUrl !== null) {
      // A shared database but a secret of this machine's own: every other replica or host signs with another.
      process.emitWarning(
        `BRIGADE_SECRET is not set: tokens are signed with the secret generated in ${path.resolve(config.home, 'secret')}, which only this BRIGADE_HOME has. ` +
          'Another process on another host or container (a replica behind a load balancer, a redeploy) refuses them with 401 TOKEN_INVALID, and counts failed customer sign-ins apart from this one. ' +
          'Set BRIGADE_SECRET (32 characters or more) to the same value for every process of the deployment.',
      );
    }
    // A failed after-commit hook (a wake-up, a follow-up transaction) never undoes the commit; it is logged
    // once the app's logger exists, and written to stderr before that.
    let reportAfterCommit: (error: unknown) => void = (error) => process.emitWarning(`after-commit hook failed: ${error instanceof Error ? error.message : String(error)}`);
    // Trouble with the read replica is logged once the app's logger exists (reads then use the primary).
    let reportReplicaTrouble: (error: unknown) => void = (error) => process.emitWarning(`read replica unusable: ${error instanceof Error ? error.message : String(error)}`);
    const replicaReads =
      config.databaseReplicaUrl === null
        ? undefined
        : createReplicaReads({
            primary: databases.poolForUrl(db.url),
            replica: databases.poolForUrl(config.databaseReplicaUrl),
            maxLagMs: config.databaseReplicaMaxLagMs,
            onRoute: replicaRouteMetrics(metrics),
            onTrouble: (error) => reportReplicaTrouble(error),
          });
    // The placement catalog is the platform's own table, readable by admins only (decision 0008). Each
    // read is bounded in the database as readiness bounds its wait for it: one stuck behind a lock on the
    // catalog ends there and gives its connection back (the router answers meanwhile with the last list).
    const catalog = createPlacementCatalog(() => readPlacementCatalog(databases, 'placement-catalog', Date.now() + READINESS_TIMEOUT_MS - DATABASE_BOUND_MARGIN_MS));
    // A restaurant database left out of a look-up across databases is logged once the app's logger exists.
    let reportDatabaseTrouble: (error: Error) => void = (error) => process.emitWarning(error.message);
    const router = createTenantRouter({
      databases,
      replicaReads,
      catalog,
      sharedServices: SHARED_SERVICE_NAMES,
      onAfterCommitError: (error) => reportAfterCommit(error),
      onDatabaseTrouble: (error) => reportDatabaseTrouble(error),
    });
    // Caches are created while the app is being built; their trouble reports go to its logger once it exists.
    let reportCacheTrouble: (error: unknown, context: unknown) => void = () => undefined;
    // Every service's integration events share one stream (JetStream) or one bus schema (PostgreSQL).
    const busPool = databases.poolFor('platform');
    // Trouble with a broker connected in the background is logged once the app's logger exists (kept till then).
    let brokerTrouble: Error | undefined;
    let reportBrokerTrouble: (error: Error) => void = (error) => (brokerTrouble = error);
    let reportBrokerConnected: () => void = () => undefined;
    const background =
      options.brokerOptional === true && config.natsUrl !== null
        ? createTransportInBackground(config, config.natsUrl, busPool, { onTrouble: (error) => reportBrokerTrouble(error), onConnected: () => reportBrokerConnected() })
        : null;
    const bus = background?.transport ?? (await createTransport(config, busPool));
    transport = bus;
    registerDeadLetterMetrics(metrics, busPool);
    registerClaimCheckMetrics(metrics, busPool, { graceMs: config.claimCheckGraceMs });
    const deps: ServiceDeps = {
      config,
      databases,
      unitOfWork: router.unitOfWork,
      commitStatements: router.commitStatements,
      tokens,
      deriveKey: deriveKeys(secret),
      // A token is refused once an admin revoked its role and subject, a customer token once its customer is
      // erased (decision 0090) or changed a credential (decision 0007): on every request (buildApp below),
      // and again now and then on an open board stream (decision 0032).
      checkPrincipal: refuseRevokedTokens(router.commitStatements),
      metrics,
      transport: bus,
      placements: router,
      createCache: (namespace) => {
        if (config.cacheTtlSeconds === 0) return null;
        if (config.redisUrl === null) evictions ??= createPgEvictionBus({ pool: busPool, onError: (error, context) => reportCacheTrouble(error, context) });
        const cache = createCache({
          namespace,
          keyPrefix: config.cacheKeyPrefix,
          redis: config.redisUrl,
          ...(evictions === undefined ? {} : { evictions }),
          ttlSeconds: config.cacheTtlSeconds,
          maxBytes: config.cacheMaxBytes,
          registry: metrics,
          onError: (error, context) => reportCacheTrouble(error, context),
        });
        caches.push(cache);
        return cache;
      },
    };
    const app = await buildApp({
      bodyLimit: config.bodyLimit,
      requestTimeoutMs: config.requestTimeoutMs,
      logger: options.logger,
      metrics,
      // Probes that overlap share the checks in flight: one read of each database however many ask.
      readiness: shareInFlight(async () =>
        withBrokerShown(
          await readiness(databases, targets, { catalog, files: dedicatedFiles, configured }, (check, error) => app.log.warn({ err: error, check }, 'a readiness check failed')),
          background,
        ),
      ),
      services: served,
      serviceDeps: deps,
      tokens,
      checkPrincipal: deps.checkPrincipal,
      deadLetters: { pool: busPool, transport: bus },
      // The development login mints tokens without a secret: only on the embedded database, bound to loopback,
      // with the checks of POST /v1/tokens (a staff token only for a restaurant the directory knows).
      // Only the pages whose API calls the chosen services serve (none for `brigade serve --service menu`).
      pages: {
        devLogin: offersDevLogin(config.host, options.embedded === true),
        mintToken: (request) => mintToken({ unitOfWork: deps.unitOfWork, tokens }, request),
        services: served.map((s) => s.name),
      },
      // The admin audit trail is the platform service's table, written in its own transaction.
      audit: (entry) => unitOfWork(databases.poolFor('platform'), { service: 'platform', actor: { kind: 'admin', id: entry.actorId } }, (tx) => recordAdminAudit(tx, entry)),
    });
    // Named by its setting: the log is where an unreachable REDIS_URL shows once the process runs.
    const degraded =
      config.redisUrl === null
        ? 'cache degraded'
        : `cache degraded: Redis at REDIS_URL (${redisAddress(config.redisUrl)}) failed or is set up to refuse (err says which); menus are read uncached meanwhile`;
    reportCacheTrouble = (error, context) => app.log.warn({ err: error, cache: context }, degraded);
    reportAfterCommit = (error) => app.log.warn({ err: error }, 'after-commit hook failed (the transaction stands)');
    reportReplicaTrouble = (error) =>
      app.log.warn({ err: error }, 'read replica unusable for now: its reads run on the primary. Check DATABASE_REPLICA_URL names a reachable hot standby of DATABASE_URL');
    reportBrokerTrouble = (error) =>
      app.log.warn({ err: error }, 'NATS not connected: this process runs no workers and serves without it; dead-letter redrives answer 503 until it connects (it keeps trying)');
    reportBrokerConnected = () => app.log.info('NATS connected: dead-letter redrives go to JetStream');
    if (brokerTrouble !== undefined) reportBrokerTrouble(brokerTrouble);
    reportDatabaseTrouble = (error) =>
      app.log.warn({ err: error }, "a restaurant's own database did not answer a look-up: check it is up (brigade migrate status lists it by label; /health/ready checks it)");
    return {
      app,
      databases,
      metrics,
      deps,
      close: async () => {
        await app.close();
        await closeCaches();
        await bus.close();
        return databases.close();
      },
    };
  } catch (error) {
    // A step that failed (NATS unreachable, the secret unwritable) leaves nothing open behind it.
    await Promise.all(caches.map((c) => c.close().catch(() => undefined)));
    await evictions?.close().catch(() => undefined);
    await transport?.close().catch(() => undefined);
    await databases.close().catch(() => undefined);
    throw error;
  }
}

/**
 * The message transport: NATS JetStream when `NATS_URL` is set (the platform creates the stream for
 * every service's subjects), else the PostgreSQL transport in the `brigade_bus` schema; either way with
 * the claim-check (payloads over 64 KiB stay in PostgreSQL and a reference rides the bus).
 *
 * `manageStream: false` (for one-shot commands such as `brigade dlq redrive`) only checks that the
 * JetStream stream exists: its subjects, replicas, duplicate window and maximum age stay as the
 * processes that run the platform (and `brigade migrate`) set them, whatever this environment says.
 *
 * @example
 * const transport = await createTransport(config, pool, { manageStream: false });
 */
export async function createTransport(config: Config, pool: import('pg').Pool, options: { readonly manageStream?: boolean } = {}): Promise<Transport> {
  const transport = config.natsUrl === null ? createPgTransport({ pool }) : await createNatsTransport(natsOptions(config, config.natsUrl, pool, options.manageStream ?? true));
  return withClaimCheck(transport, { pool });
}

/** The platform's JetStream transport options: the stream for every service's subjects, set up as `NATS_STREAM_*` say. */
function natsOptions(config: Config, servers: readonly string[], pool: import('pg').Pool, manageStream: boolean): NatsTransportOptions {
  return {
    servers,
    pool,
    subjects: SERVICE_NAMES.map((s) => `${s}.>`),
    replicas: config.natsStreamReplicas,
    duplicateWindowMs: config.messageDedupeWindowMs,
    maxAgeMs: config.natsStreamMaxAgeMs,
    manageStream,
  };
}

/**
 * The JetStream transport of a process without workers (`brigade serve`), returned at once and
 * connected in the background (`createNatsTransportInBackground`, which says the first failure to
 * `onTrouble` and keeps trying): with the claim-check as {@link createTransport}'s, and whether it is
 * connected yet, for readiness. `servers` is the set `NATS_URL`'s list.
 *
 * @example
 * if (config.natsUrl !== null) createTransportInBackground(config, config.natsUrl, pool, { onTrouble: (e) => log.warn(e.message) });
 */
function createTransportInBackground(
  config: Config,
  servers: readonly string[],
  pool: import('pg').Pool,
  reports: { readonly onTrouble?: (error: Error) => void; readonly onConnected?: () => void } = {},
): { readonly transport: Transport; isConnected(): boolean } {
  const nats = createNatsTransportInBackground({ ...natsOptions(config, servers, pool, true), ...reports });
  return { transport: withClaimCheck(nats, { pool }), isConnected: () => nats.isConnected() };
}

/**
 * `ready` with the check `nats` added when the broker is connected in the background: shown, never
 * deciding (the process serves without it), so a broker outage takes no API instance out of rotation.
 */
function withBrokerShown(ready: Readiness, broker: { isConnected(): boolean } | null): Readiness {
  if (broker === null) return ready;
  const nats = broker.isConnected()
    ? { ok: true }
    : {
        ok: false,
        detail:
          'not connected: this process runs no workers and serves without it (dead-letter redrives answer 503 until it connects; the instance stays ready). ' +
          'Check that NATS is up and NATS_URL names it (the log has the reason)',
      };
  return { ok: ready.ok, checks: byName({ ...ready.checks, nats }) };
}

/** How long `/health/ready` waits for each database (and its read waits in the database, a little less). */
const READINESS_TIMEOUT_MS = 2000;

/**
 * `/health/ready`: each served migration target's database ({@link servedMigrationTargets}: the
 * platform's and the served services' own, not another service's) answers and has every file applied
 * (`database`, `migrations`; with several, suffixed by the setting each comes from: `database:main` for
 * `DATABASE_URL`, `database:ordering` for `ORDERING_DATABASE_URL`), and so does each dedicated database
 * of the placement catalog (`database:<label>`, `migrations:<label>`: its label, never its URL). A catalog
 * that cannot be read adds a failed `placement-catalog` check (also when the catalog answers with the
 * last list it read, `isStaleList`). Every check at once, each within 2 s: a database's read of its
 * migrations is bounded in the database too ({@link boundedRead}), and so is the catalog's read
 * (`readPlacementCatalog` with a bound), so one stuck behind a lock (a migration's ALTER of the
 * tracking table or of the catalog) ends there and gives its connection back, instead of waiting
 * with it after the probe has answered.
 *
 * A dedicated database that does not answer, and an unreadable catalog, are shown but do not make the
 * process unready: one restaurant's database down must not take every instance out of rotation (its
 * reads are left out meanwhile, decision 0008). A dedicated database behind on migrations does, as the
 * configured ones do: the code of a new release needs them there too. A database's failure detail says
 * what kind of failure it was, not the driver's text, which names hosts (the endpoint is public): that
 * goes to `onTrouble` (the log).
 */
async function readiness(
  databases: Databases,
  targets: ReadonlyArray<{ url: string; label: string; files: MigrationFile[] }>,
  dedicated: { readonly catalog: PlacementCatalog; readonly files: MigrationFile[]; readonly configured: ReadonlySet<string> },
  onTrouble: (check: string, error: unknown) => void,
): Promise<Readiness> {
  const checks: Record<string, { ok: boolean; detail?: string }> = {};
  /** Checks shown that do not decide readiness. */
  const advisory = new Set<string>();
  const check = async (suffix: string, url: string, files: MigrationFile[], placed = false) => {
    try {
      const rows = await boundedRead(databases.poolForUrl(url), READINESS_TIMEOUT_MS, (db) => inspectMigrations(db, files));
      checks[`database${suffix}`] = { ok: true };
      // Files a newer release applied (`ahead`) do not make an older one unready: a rolling deploy runs both.
      const behind = rows.filter((r) => r.state !== 'applied' && r.state !== 'ahead');
      const ahead = rows.filter((r) => r.state === 'ahead');
      // Pending files only: brigade migrate applies them. A changed, missing or out-of-order one it
      // refuses to run for: said in brigade migrate status' words (it used to say "run brigade migrate").
      const refused = behind.some((r) => r.state !== 'pending');
      checks[`migrations${suffix}`] =
        behind.length > 0
          ? { ok: false, detail: `${behind.map((r) => `${r.id} ${r.state}`).join(', ')}; ${refused ? 'brigade migrate refuses to run: brigade migrate verify says why' : 'run brigade migrate'}` }
          : ahead.length > 0
            ? { ok: true, detail: `${ahead.map((r) => r.id).join(', ')} ahead (applied by a newer release)` }
            : { ok: true };
    } catch (error) {
      onTrouble(`database${suffix}`, error);
      // The database cut the read short (a lock it waited on, an overloaded server): it is up, and saying
      // "check that it is up" sent the operator the wrong way (found by a review).
      const held = isLocalTimeout(error);
      const kind = held ? 'its read held past 2 s by a lock or a busy server' : /within/.test(error instanceof Error ? error.message : String(error)) ? 'no answer within 2 s' : 'unreachable';
      checks[`database${suffix}`] = {
        ok: false,
        detail: placed
          ? `a restaurant's own database: ${kind} (its restaurant's reads wait; the instance stays ready)`
          : held
            ? 'no answer within 2 s: the database answered, but its read of the migrations waited past that on a lock (a migration running, say) or a busy server: the log has the reason'
            : `${kind}: check that the database is up and its URL is right (the log has the reason)`,
      };
      checks[`migrations${suffix}`] = { ok: false, detail: kind === 'unreachable' ? 'unknown while the database is unreachable' : 'unknown while its read does not answer' };
      if (placed) for (const name of [`database${suffix}`, `migrations${suffix}`]) advisory.add(name);
    }
  };
  const checkDedicated = async () => {
    let urls: readonly string[];
    try {
      urls = await withDeadline(dedicated.catalog.list(), READINESS_TIMEOUT_MS);
    } catch (error) {
      onTrouble('placement-catalog', error);
      checks['placement-catalog'] = { ok: false, detail: 'the dedicated databases are unknown: the catalog could not be read (the log has the reason)' };
      advisory.add('placement-catalog');
      return;
    }
    // The catalog's read failed (cut short in the database behind a lock, say) after an earlier one
    // succeeded: the databases it last listed are checked, and the catalog's failure is shown.
    if (isStaleList(urls)) {
      checks['placement-catalog'] = { ok: false, detail: 'the catalog could not be read: the dedicated databases it last listed are checked (the log has the reason)' };
      advisory.add('placement-catalog');
    }
    await Promise.all(
      urls.filter((url) => !dedicated.configured.has(url)).map((url) => check(`:${databases.labelOf(databases.poolForUrl(url)) ?? databaseLabel(url)}`, url, dedicated.files, true)),
    );
  };
  await Promise.all([...targets.map((target) => check(targets.length > 1 ? `:${target.label}` : '', target.url, target.files)), checkDedicated()]);
  return { ok: Object.entries(checks).every(([name, c]) => c.ok || advisory.has(name)), checks: byName(checks) };
}

/** Readiness checks in the order of their names (by code unit), as `/health/ready` lists them. */
function byName(checks: Readiness['checks']): Readiness['checks'] {
  return Object.fromEntries(Object.entries(checks).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
