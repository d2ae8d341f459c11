import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { CommitStatementsFn, Databases, ReplicaReads, Tx, UnitOfWorkContext, UnitOfWorkOptions } from '../db/index.ts';
import { actorName, commitStatements, DatabaseUnavailableError, unitOfWork } from '../db/index.ts';
import { BrigadeError, ValidationError } from '../errors/index.ts';
import { tenantFence } from './tenantFence.ts';
import { isUuid } from '../ids/index.ts';
import { isStaleList, type PlacementCatalog } from './placementCatalog.ts';
import { withDeadline } from '../runtime/withDeadline.ts';
import { boundedUntil, localTimeouts } from '../db/localTimeouts.ts';

/** Runs one transaction for a context, on whichever database holds its tenant. */
export type UnitOfWorkFn = <T>(context: UnitOfWorkContext, fn: (tx: Tx) => Promise<T>) => Promise<T>;

export type { CommitStatementsFn };

/** Options of {@link createTenantRouter}. */
export interface TenantRouterOptions {
  readonly databases: Databases;
  /** Receives errors of `afterCommit` callbacks. */
  readonly onAfterCommitError?: (error: unknown) => void;
  /** Read-replica routing of the primary's `replicaOk` reads (docs/decisions/0082); absent: every read on the primary. */
  readonly replicaReads?: ReplicaReads;
  /**
   * How long, in ms, a transaction of a tenant that is being moved keeps trying before it fails with
   * `TENANT_MOVING` (503, retry later). It waits without a connection, between tries 10 ms at first
   * and doubling up to 500 ms (with jitter). Default {@link DEFAULT_MOVE_WAIT_MS}.
   */
  readonly moveWaitMs?: number;
  /**
   * Services whose tenant rows never move (decision 0008: delivery's dispatch claims a job and a courier
   * in one transaction, and couriers serve every restaurant): their transactions run on the service's
   * own database, unfenced, whatever the catalog says of their tenant.
   */
  readonly sharedServices?: readonly string[];
  /** The dedicated databases of the placement catalog, for reads and background work that span tenants. Absent: none. */
  readonly catalog?: PlacementCatalog;
  /** How long `findInEveryDatabase` waits for a dedicated database, and `readEachTenant` for each tenant. Default {@link DEDICATED_READ_TIMEOUT_MS}. */
  readonly readTimeoutMs?: number;
  /** Receives what left a database out of a look-up or of a read of several tenants (its label in the error's message, never its URL). */
  readonly onDatabaseTrouble?: (error: Error) => void;
}

/** Default of {@link TenantRouterOptions.readTimeoutMs}. */
export const DEDICATED_READ_TIMEOUT_MS = 2000;

/** Default of {@link TenantRouterOptions.moveWaitMs}: longer than a move of a restaurant takes today. */
export const DEFAULT_MOVE_WAIT_MS = 30_000;

/** The unit of work that consults the tenant placement catalog. */
export interface TenantRouter {
  /**
   * `unitOfWork(context, fn)`: routed by the context's tenant, fenced against moves. `fn` may run more
   * than once: a transaction refused by the fence (its tenant moving or moved) has done nothing and
   * runs again, whole, after a wait or on the tenant's new database. So `fn` must do nothing but
   * statements (work after the commit goes in `afterCommit`, which only the committed run triggers),
   * and must let errors it does not know pass. A context with a tenant runs READ COMMITTED: an
   * `isolation` of REPEATABLE READ or SERIALIZABLE is refused (`TENANT_ISOLATION_UNSUPPORTED`), since
   * its snapshot would be taken before the fence and miss a move committed just before it.
   */
  readonly unitOfWork: UnitOfWorkFn;
  /** `commitStatements(context, statements)`: the same routing and fence, one round trip. */
  readonly commitStatements: CommitStatementsFn;
  /** Where this process believes a tenant lives: `''` for the shared database, else a URL. */
  placementOf(tenantId: string): string;
  /**
   * The dedicated databases: the catalog's (read at most a second ago, or now with `fresh`) and any
   * this process followed a tenant to since. A catalog that cannot be read answers its last known list
   * (see `createPlacementCatalog`).
   */
  dedicatedDatabases(options?: { readonly fresh?: boolean; readonly readSince?: number }): Promise<readonly string[]>;
  /**
   * For a context without a tenant (a look-up across tenants: an order by id, an idempotency key):
   * runs `fn` in one transaction on the service's own database and, when that answers `null`, at once
   * in one on each dedicated database, and returns the first answer that is not `null` (the own
   * database's, else the dedicated ones' in catalog order). With nothing moved that is one transaction,
   * as before placements existed. A dedicated database's transaction is bounded in the database too
   * (`statement_timeout` and `lock_timeout` of `readTimeoutMs`), so one that hangs while connected does
   * not keep its pool's connections, and it is left out when it fails or has not answered by then. So
   * is every dedicated database while the catalog cannot be read.
   *
   * What a look-up that found nothing and left a database out answers depends on `unanswered`:
   * `'fail'` (default) fails with `DATABASE_UNAVAILABLE` (503, retry) rather than say "not found";
   * `'skip'` answers `null`, for a look-up whose miss is safe (an idempotency key: a retry with the
   * same body goes to the same restaurant, whose database replays its claim). Either way the databases
   * left out go to `onDatabaseTrouble`. A failure of the own database fails the look-up. Before a
   * `'fail'` look-up answers "not found", it needs a list of the catalog read after it began (its
   * list may be a second old; concurrent look-ups share one read) and asks any database placed since:
   * a row moved in that second is found, not reported missing, and a catalog that cannot be read then
   * counts as a database that did not answer. A `'skip'` look-up, whose miss is safe, spares that read.
   */
  findInEveryDatabase<T>(context: UnitOfWorkContext, fn: (tx: Tx) => Promise<T | null>, lookup?: { readonly unanswered?: 'fail' | 'skip' }): Promise<T | null>;
  /**
   * For a read of several tenants that live apart (each in a dedicated database), where an answer
   * without some of them is still worth giving: the menu search of a city's moved restaurants. Runs
   * `fn` for each of `tenantIds`, at once, each in its own transaction of `context` with that tenant,
   * routed and fenced as `unitOfWork` runs it, and bounded as `findInEveryDatabase` bounds a dedicated
   * database's look-up: `statement_timeout` and `lock_timeout` of `readTimeoutMs` in the database (a
   * read stuck there gives its connection back), and no longer a wait for the caller. A tenant whose
   * read fails or has not answered by then is left out: it is in `missing`, and what left it out goes
   * to `onDatabaseTrouble` (by its database's label). So the answer comes within about `readTimeoutMs`
   * whatever the tenants' databases do, and a read that fails never fails the others. A tenant being
   * moved for longer than that is left out too.
   *
   * `answers` holds the values of the tenants that answered, in the order of `tenantIds`. A `context`
   * with a tenant, or a tenant id that is not a UUID, is refused (`VALIDATION_FAILED`) before anything
   * runs.
   *
   * @example
   * const { answers, missing } = await router.readEachTenant({ service: 'menu', actor, readOnly: true }, movedIds, (tx, rid) => searchMenu(tx, [rid], q, 51));
   */
  readEachTenant<T>(context: UnitOfWorkContext, tenantIds: readonly string[], fn: (tx: Tx, tenantId: string) => Promise<T>): Promise<{ readonly answers: readonly T[]; readonly missing: readonly string[] }>;
  /**
   * The transactions of background work that serves the tenants of the database at `url` (a relay, a
   * projector, a saga runner there): the ones of `service` without a tenant (their claims and their
   * own bookkeeping) run on that database; every other one is routed as `unitOfWork` routes it.
   */
  onDatabase(url: string, service: string): { readonly unitOfWork: UnitOfWorkFn; readonly commitStatements: CommitStatementsFn };
  /**
   * The pool of the database that holds the context's tenant, for work that needs the database itself
   * rather than one transaction (a LISTEN, polling a projection's checkpoint): the service's own for a
   * context without a tenant or of a service whose rows stay shared. A tenant this process has followed
   * to a dedicated database is answered at once (tenants move once), and so is every tenant while
   * the catalog lists no dedicated database (`dedicatedDatabases`, read at most a second ago: a move
   * in that second goes unseen). Any other is confirmed by one trivial routed read-only transaction
   * (`select 1` behind the fence), which follows a move this process has not seen yet and waits out
   * one in progress as every routed transaction does; so it may throw what `unitOfWork` throws
   * (`TENANT_MOVING`). An answer holds until the tenant's next move (one the empty catalog gave, until
   * the catalog shows a move).
   *
   * A caller that runs a routed transaction of the tenant anyway needs no probe: after it,
   * `placementOf(tenantId)` is where the transaction ran (`''`: the service's own database).
   *
   * @example
   * const listener = await listenToProjections(await router.poolOfTenant({ service: 'ordering', tenantId: rid, actor }));
   */
  poolOfTenant(context: UnitOfWorkContext): Promise<pg.Pool>;
}

/** A tenant can move at most once per transaction attempt; two hops means the catalog is cycling. */
const MAX_HOPS = 2;
/** SQLSTATE of platform.enter_tenant: this database places the tenant elsewhere (DETAIL = where). */
const TENANT_MOVED = 'BRMOV';
/** SQLSTATE of platform.enter_tenant(s): a move of the tenant holds its fence (or waits for it). */
const TENANT_MOVING = 'BRMVG';
/** The first pause after a {@link TENANT_MOVING}; it doubles after each try, up to the maximum. */
const MOVE_BACKOFF_MS = 10;
const MOVE_BACKOFF_MAX_MS = 500;

/**
 * The placement-aware unit of work. Tenants live in the shared database unless the catalog
 * (`platform.tenant_placements`) places them in a dedicated one. Every tenant transaction runs
 * `platform.enter_tenant(tenant, believed placement)` right after its settings, in the same round trip
 * as its first statements: it raises `BRMVG` while a move of that tenant holds the fence, and `BRMOV`
 * when this database places the tenant elsewhere. Either way the transaction has done nothing
 * (PostgreSQL runs nothing after a failed statement) and its connection goes back to the pool. On
 * `BRMOV` it is retried where the tenant lives, so a running process follows a move without a restart
 * and without a lookup on the hot path; on `BRMVG` it waits without a connection (backoff with jitter)
 * and tries again, for at most `moveWaitMs`, so a moving tenant cannot take the pool from the others.
 *
 * Limits: moves go from the shared database to a dedicated one; a tenant is not moved again.
 */
export function createTenantRouter(options: TenantRouterOptions): TenantRouter {
  const placements = new Map<string, string>();
  /** Tenants a fence just refused as moving, and until when (`performance.now()`) to wait before trying them again. */
  const moving = new Map<string, number>();
  const placementOf = (tenantId: string) => placements.get(tenantId) ?? '';
  const moveWaitMs = options.moveWaitMs ?? DEFAULT_MOVE_WAIT_MS;
  const shared = new Set(options.sharedServices ?? []);

  /** Runs `attempt` on the tenant's pool with the fence, waiting out a move (`moveWaitMs`) and following it at most MAX_HOPS times. */
  const routed = async <T>(context: UnitOfWorkContext, attempt: (pool: pg.Pool, setup: UnitOfWorkOptions) => Promise<T>): Promise<T> => {
    const tenantId = context.tenantId;
    if (tenantId != null && !isUuid(tenantId)) throw new ValidationError('tenantId must be a UUID', { field: 'tenantId' });
    if (tenantId == null || shared.has(context.service)) return onPrimaryOrReplica(context, options.databases.poolFor(context.service), options, attempt);
    // REPEATABLE READ and SERIALIZABLE take their snapshot at the transaction's first statement, the
    // settings, before the fence: a move that committed between the two would be invisible to the
    // fence's read of the placement, and the unit would run on the rows the move deleted.
    if (context.isolation !== undefined && context.isolation !== 'read committed') {
      throw new BrigadeError(
        'TENANT_ISOLATION_UNSUPPORTED',
        500,
        `A unit of work of a tenant runs READ COMMITTED (its tenant fence must see a move committed before it), not ${context.isolation.toUpperCase()}: leave out isolation, or run the unit without a tenant`,
        { details: { service: context.service, isolation: context.isolation } },
      );
    }
    let hops = 0;
    let waitingSince: number | undefined;
    let pause = MOVE_BACKOFF_MS;
    for (;;) {
      // A tenant seen moving a moment ago is waited for before trying: each refused try of a merged
      // group-commit batch costs every unit in it two more round trips (decision 0008).
      const movingFor = (moving.get(tenantId) ?? 0) - performance.now();
      if (movingFor > 0) {
        waitingSince ??= performance.now();
        await sleep(Math.min(movingFor, Math.max(0, moveWaitMs - (performance.now() - waitingSince))));
      }
      const placed = placementOf(tenantId);
      const setup = { ...options, setupStatements: [tenantFence(tenantId, placed)] };
      try {
        if (placed !== '') return await attempt(options.databases.poolForUrl(placed), setup);
        return await onPrimaryOrReplica(context, options.databases.poolFor(context.service), setup, attempt);
      } catch (error) {
        const e = error as { code?: string; detail?: string };
        if (e.code === TENANT_MOVING) {
          // A move holds the fence for its copy. Waiting here, not in PostgreSQL, keeps the pool for the
          // other tenants; the try after the move gets BRMOV and follows the tenant.
          waitingSince ??= performance.now();
          const left = moveWaitMs - (performance.now() - waitingSince);
          if (left <= 0) {
            throw new BrigadeError('TENANT_MOVING', 503, `Tenant ${tenantId} is being moved to another database and the move did not end within ${moveWaitMs} ms; retry later`, {
              details: { tenantId },
              cause: error,
            });
          }
          const wait = Math.min(left, pause * (0.5 + Math.random() / 2));
          moving.set(tenantId, performance.now() + wait);
          await sleep(wait);
          pause = Math.min(pause * 2, MOVE_BACKOFF_MAX_MS);
          continue;
        }
        if (e.code !== TENANT_MOVED || typeof e.detail !== 'string') throw error;
        moving.delete(tenantId);
        // The detail is a connection string: never put it in an error message.
        if (hops >= MAX_HOPS) throw new BrigadeError('TENANT_MOVING', 503, `Tenant ${tenantId} moved more than ${MAX_HOPS} times during one transaction; retry later`, { details: { tenantId } });
        hops++;
        placements.set(tenantId, e.detail);
        options.catalog?.learn(e.detail);
      }
    }
  };

  /**
   * On the primary, a `replicaOk` read goes to the standby when it is fresh enough for the actor whose
   * writes it must see (and back to the primary when the standby fails it); a write notes its actor,
   * and the caller it is made for (`ownWritesOf`) when that is another one.
   */
  const onPrimaryOrReplica = async <T>(context: UnitOfWorkContext, pool: pg.Pool, setup: UnitOfWorkOptions, attempt: (pool: pg.Pool, setup: UnitOfWorkOptions) => Promise<T>): Promise<T> => {
    const replica = options.replicaReads;
    if (replica === undefined || pool !== replica.primary) return attempt(pool, setup);
    if (context.readOnly !== true) {
      // A write made as another actor for a signed-in caller (a staff member's change of the directory
      // runs as the directory) counts as the caller's too: their next read must see it (decision 0082).
      const wrote = () => {
        for (const writer of new Set([context.actor, context.ownWritesOf].flatMap((a) => (a == null ? [] : [actorName(a)])))) replica.wrote(writer);
      };
      let result: T;
      try {
        result = await attempt(pool, setup);
      } catch (error) {
        // Lost while committing, the write may have been saved, and its error tells the client to read
        // it back before doing it again: that read must not go to a standby without it.
        if (error instanceof DatabaseUnavailableError && error.phase === 'commit') wrote();
        throw error;
      }
      wrote();
      return result;
    }
    if (context.replicaOk !== true) return attempt(pool, setup);
    const writer = context.ownWritesOf === undefined ? context.actor : context.ownWritesOf;
    const chosen = await replica.poolFor(writer == null ? '' : actorName(writer));
    if (chosen === pool) return attempt(pool, setup);
    try {
      return await attempt(chosen, setup);
    } catch (error) {
      const trouble = standbyTrouble(error, chosen);
      if (trouble === null) throw error;
      // A recovery conflict, or every replica connection taken, concerns this one read; only a standby
      // that fails as a server is left alone for a while.
      if (trouble === 'server') replica.failed(error);
      return attempt(pool, setup);
    }
  };

  const dedicatedDatabases = (listOptions?: { readonly fresh?: boolean; readonly readSince?: number }) => options.catalog?.list(listOptions) ?? Promise.resolve([]);
  const routedUnitOfWork: UnitOfWorkFn = (context, fn) => routed(context, (pool, setup) => unitOfWork(pool, context, fn, setup));
  const routedCommitStatements: CommitStatementsFn = (context, statements) => routed(context, (pool, setup) => commitStatements(pool, context, statements, setup));

  return {
    unitOfWork: routedUnitOfWork,
    commitStatements: routedCommitStatements,
    placementOf,
    dedicatedDatabases,
    async findInEveryDatabase(context, fn, lookup = {}) {
      if (context.tenantId != null) throw new ValidationError('findInEveryDatabase is for transactions without a tenant; a tenant lives in one database', { field: 'tenantId' });
      const began = performance.now();
      const own = await routedUnitOfWork(context, fn);
      if (own !== null || shared.has(context.service)) return own;
      const readTimeoutMs = options.readTimeoutMs ?? DEDICATED_READ_TIMEOUT_MS;
      const unanswered: string[] = [];
      const leftOut = (what: string, error: unknown) => {
        unanswered.push(what);
        options.onDatabaseTrouble?.(new Error(`${what} left out of a look-up across databases: ${error instanceof Error ? error.message : String(error)}`));
      };
      let elsewhere: readonly string[] = [];
      try {
        elsewhere = await dedicatedDatabases();
      } catch (error) {
        leftOut('the placement catalog', error);
      }
      const bounded = { ...options, ...boundedUntil(Date.now() + readTimeoutMs) };
      const lookIn = async (urls: readonly string[]) => {
        const answers = urls.map((url) => {
          const pool = options.databases.poolForUrl(url);
          const label = options.databases.labelOf(pool) ?? 'a dedicated database';
          return withDeadline(unitOfWork(pool, context, fn, bounded), readTimeoutMs).then(
            (value) => ({ label, value, error: undefined }),
            (error: unknown) => ({ label, value: undefined, error }),
          );
        });
        for (const answer of answers) {
          const { label, value, error } = await answer;
          if (value === undefined) leftOut(label, error);
          else if (value !== null) return value;
        }
        return null;
      };
      const found = await lookIn(elsewhere);
      if (found !== null) return found;
      if (lookup.unanswered !== 'skip' && unanswered.length === 0) {
        // Before it says "not found", a look-up that must not say so wrongly needs a list read after it
        // began (one such read serves every look-up waiting for it): the list it used may be up to a
        // second old, and miss a restaurant moved meanwhile. A list the catalog could not confirm
        // leaves the answer open (DATABASE_UNAVAILABLE), as a database that did not answer does.
        const known = new Set(elsewhere);
        const since = await dedicatedDatabases({ readSince: began }).then(
          (urls) => {
            if (isStaleList(urls)) leftOut('the placement catalog', new Error('it could not be read; its last known list may miss a restaurant moved since'));
            return urls.filter((url) => !known.has(url));
          },
          (error: unknown) => (leftOut('the placement catalog', error), []),
        );
        const late = await lookIn(since);
        if (late !== null) return late;
      }
      if (unanswered.length === 0 || lookup.unanswered === 'skip') return null;
      throw new BrigadeError('DATABASE_UNAVAILABLE', 503, 'Not found in the databases that answered, and a restaurant database did not answer in time; retry shortly');
    },
    async readEachTenant<T>(context: UnitOfWorkContext, tenantIds: readonly string[], fn: (tx: Tx, tenantId: string) => Promise<T>) {
      if (context.tenantId != null) throw new ValidationError('readEachTenant takes its tenants as tenantIds: leave the context without a tenant', { field: 'tenantId' });
      const notUuid = tenantIds.find((tenantId) => !isUuid(tenantId));
      if (notUuid !== undefined) throw new ValidationError(`readEachTenant's tenantIds must be UUIDs, not ${JSON.stringify(notUuid)}`, { field: 'tenantIds' });
      const readTimeoutMs = options.readTimeoutMs ?? DEDICATED_READ_TIMEOUT_MS;
      const until = Date.now() + readTimeoutMs;
      /** The label of the database the tenant's read ran on last (where this process believes it lives). */
      const labelOfTenant = (tenantId: string) => {
        const placed = placementOf(tenantId);
        const pool = placed === '' ? options.databases.poolFor(context.service) : options.databases.poolForUrl(placed);
        return options.databases.labelOf(pool) ?? (placed === '' ? 'the shared database' : 'a dedicated database');
      };
      const reads = tenantIds.map((tenantId) => {
        const own: UnitOfWorkContext = { ...context, tenantId };
        // Each try (a move's fence refuses one, a move sends one elsewhere) is bounded by the time left
        // until `until`: one that starts after it gives up at once in the database.
        const read = routed(own, (pool, setup) => unitOfWork(pool, own, (tx) => fn(tx, tenantId), { ...setup, setupStatements: [localTimeouts(until), ...(setup.setupStatements ?? [])] }));
        return withDeadline(read, readTimeoutMs).then(
          (value) => ({ tenantId, answered: true as const, value }),
          (error: unknown) => ({ tenantId, answered: false as const, error }),
        );
      });
      const answers: T[] = [];
      const missing: string[] = [];
      for (const read of await Promise.all(reads)) {
        if (read.answered) {
          answers.push(read.value);
          continue;
        }
        missing.push(read.tenantId);
        const { error } = read;
        options.onDatabaseTrouble?.(new Error(`${labelOfTenant(read.tenantId)} left out of a read of several tenants (tenant ${read.tenantId}): ${error instanceof Error ? error.message : String(error)}`));
      }
      return { answers, missing };
    },
    onDatabase(url, service) {
      const pool = options.databases.poolForUrl(url);
      const here = (context: UnitOfWorkContext) => context.tenantId == null && context.service === service;
      return {
        unitOfWork: (context, fn) => (here(context) ? unitOfWork(pool, context, fn, options) : routedUnitOfWork(context, fn)),
        commitStatements: (context, statements) => (here(context) ? commitStatements(pool, context, statements) : routedCommitStatements(context, statements)),
      };
    },
    async poolOfTenant(context) {
      const tenantId = context.tenantId;
      if (tenantId == null || shared.has(context.service)) return options.databases.poolFor(context.service);
      const placed = placementOf(tenantId);
      if (placed !== '') return options.databases.poolForUrl(placed);
      // Nothing has moved (as of the catalog's last read): no probe, which would cost every caller a
      // transaction. A catalog never read yet (it failed) says nothing: probe.
      if ((await dedicatedDatabases().catch(() => undefined))?.length === 0) return options.databases.poolFor(context.service);
      // On the primary: the pool asked for is where the tenant's writes and projections are.
      const probe: UnitOfWorkContext = { ...context, readOnly: true, replicaOk: false };
      return routed(probe, async (pool, setup) => {
        await unitOfWork(pool, probe, (tx) => tx.query('select 1'), setup);
        return pool;
      });
    },
  };
}


/**
 * Whether a failed standby read is the standby's fault, not the read's, and so runs again on the
 * primary: `server` when the standby failed as a server (the connection: class 08, a socket or name
 * error, pg's "Connection terminated", a connect or query timeout; shutting down or starting,
 * 57P01–57P03; out of resources, class 53, e.g. too many connections; the unit of work reports most
 * of these as `DATABASE_UNAVAILABLE`), `busy` when the wait was for a
 * connection of a replica pool whose every connection is in use (`DATABASE_BUSY` from the unit of
 * work, or pg-pool's own timeout with the pool full), `conflict` when recovery cancelled
 * the query, else `null`. A recovery conflict ("canceling statement due to conflict with recovery")
 * comes as 40001, or as 40P01 when the query held a buffer pin that recovery waited for while it
 * waited for a lock itself (PostgreSQL's standby.c, "User transaction caused buffer deadlock with
 * recovery"). Either code counts, whatever the message (`lc_messages` may translate it): a read on a
 * standby takes no lock another session's read could deadlock with (the tenant fence only tries its
 * lock), and a read-only transaction cancelled for any reason is safe to run again on the primary.
 */
function standbyTrouble(error: unknown, pool: pg.Pool): 'server' | 'busy' | 'conflict' | null {
  const { code, message } = (error ?? {}) as { code?: unknown; message?: unknown };
  if (code === '40001' || code === '40P01') return 'conflict';
  if (code === 'DATABASE_BUSY') return 'busy';
  if (code === 'DATABASE_UNAVAILABLE') return 'server';
  if (typeof code === 'string') return code.startsWith('08') || code.startsWith('53') || SERVER_TROUBLE.has(code) ? 'server' : null;
  if (typeof message !== 'string') return null;
  if (message.startsWith('timeout exceeded when trying to connect') && pool.totalCount >= (pool.options.max ?? 10)) return 'busy';
  return /^(Connection terminated|timeout exceeded when trying to connect|Query read timeout)/.test(message) ? 'server' : null;
}

const SERVER_TROUBLE = new Set(['57P01', '57P02', '57P03', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);
