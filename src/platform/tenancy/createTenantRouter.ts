import type pg from 'pg';
import type { CommitStatementsFn, Databases, Tx, UnitOfWorkContext, UnitOfWorkOptions } from '../db/index.ts';
import { commitStatements, unitOfWork } from '../db/index.ts';
import { BrigadeError, ValidationError } from '../errors/index.ts';
import { tenantFence } from './tenantFence.ts';
import { isUuid } from '../ids/index.ts';

/** Runs one transaction for a context, on whichever database holds its tenant. */
export type UnitOfWorkFn = <T>(context: UnitOfWorkContext, fn: (tx: Tx) => Promise<T>) => Promise<T>;

export type { CommitStatementsFn };

/** Options of {@link createTenantRouter}. */
export interface TenantRouterOptions {
  readonly databases: Databases;
  /** Receives errors of `afterCommit` callbacks. */
  readonly onAfterCommitError?: (error: unknown) => void;
}

/** The unit of work that consults the tenant placement catalog. */
export interface TenantRouter {
  /** `unitOfWork(context, fn)`: routed by the context's tenant, fenced against moves. */
  readonly unitOfWork: UnitOfWorkFn;
  /** `commitStatements(context, statements)`: the same routing and fence, one round trip. */
  readonly commitStatements: CommitStatementsFn;
  /** Where this process believes a tenant lives: `''` for the shared database, else a URL. */
  placementOf(tenantId: string): string;
}

/** A tenant can move at most once per transaction attempt; two hops means the catalog is cycling. */
const MAX_HOPS = 2;
/** SQLSTATE of platform.enter_tenant: this database places the tenant elsewhere (DETAIL = where). */
const TENANT_MOVED = 'BRMOV';

/**
 * The placement-aware unit of work. Tenants live in the shared database unless the catalog
 * (`platform.tenant_placements`) places them in a dedicated one. Every tenant transaction runs
 * `platform.enter_tenant(tenant, believed placement)` right after its settings, in the same round trip
 * as its first statements: it waits while a move of that tenant holds the fence, and raises when this
 * database places the tenant elsewhere. Then the transaction has done nothing (PostgreSQL runs nothing
 * after a failed statement) and is retried there, so a running process follows a move without a
 * restart and without a lookup on the hot path.
 *
 * Limits: moves go from the shared database to a dedicated one; a tenant is not moved again.
 */
export function createTenantRouter(options: TenantRouterOptions): TenantRouter {
  const placements = new Map<string, string>();
  const placementOf = (tenantId: string) => placements.get(tenantId) ?? '';

  /** Runs `attempt` on the tenant's pool with the fence, following a move at most MAX_HOPS times. */
  const routed = async <T>(context: UnitOfWorkContext, attempt: (pool: pg.Pool, setup: UnitOfWorkOptions) => Promise<T>): Promise<T> => {
    const tenantId = context.tenantId;
    if (tenantId == null) return attempt(options.databases.poolFor(context.service), options);
    if (!isUuid(tenantId)) throw new ValidationError('tenantId must be a UUID', { field: 'tenantId' });
    for (let hop = 0; ; hop++) {
      const placed = placementOf(tenantId);
      const pool = placed === '' ? options.databases.poolFor(context.service) : options.databases.poolForUrl(placed);
      try {
        return await attempt(pool, { ...options, setupStatements: [tenantFence(tenantId, placed)] });
      } catch (error) {
        const e = error as { code?: string; detail?: string };
        if (e.code !== TENANT_MOVED || typeof e.detail !== 'string') throw error;
        // The detail is a connection string: never put it in an error message.
        if (hop >= MAX_HOPS) throw new BrigadeError('TENANT_MOVING', 503, `Tenant ${tenantId} moved more than ${MAX_HOPS} times during one transaction; retry later`, { details: { tenantId } });
        placements.set(tenantId, e.detail);
      }
    }
  };

  return {
    unitOfWork: (context, fn) => routed(context, (pool, setup) => unitOfWork(pool, context, fn, setup)),
    commitStatements: (context, statements) => routed(context, (pool, setup) => commitStatements(pool, context, statements, setup)),
    placementOf,
  };
}
