import type { Databases, Tx, UnitOfWorkContext, UnitOfWorkOptions } from '../db/index.ts';
import { unitOfWork } from '../db/index.ts';
import { ValidationError } from '../errors/index.ts';

/** Runs one transaction for a context, on whichever database holds its tenant. */
export type UnitOfWorkFn = <T>(context: UnitOfWorkContext, fn: (tx: Tx) => Promise<T>) => Promise<T>;

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
  /** Where this process believes a tenant lives: `''` for the shared database, else a URL. */
  placementOf(tenantId: string): string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** A tenant can move at most once per transaction attempt; two hops means the catalog is cycling. */
const MAX_HOPS = 2;

class TenantMoved extends Error {
  constructor(readonly url: string) {
    super('tenant moved');
  }
}

/**
 * The placement-aware `unitOfWork(context, fn)`. Tenants live in the shared database unless the
 * catalog (`platform.tenant_placements`) places them in a dedicated one. Every tenant transaction
 * calls `platform.tenant_fence(tenant)` in the same round trip as BEGIN: it waits while a move of
 * that tenant holds the fence, and answers where the tenant lives per that database. When the
 * answer is elsewhere, the transaction is rolled back (it did nothing yet) and retried there, so a
 * running process follows a move without a restart and without a lookup on the hot path.
 *
 * Limits: moves go from the shared database to a dedicated one; a tenant is not moved again.
 */
export function createTenantRouter(options: TenantRouterOptions): TenantRouter {
  const placements = new Map<string, string>();
  const placementOf = (tenantId: string) => placements.get(tenantId) ?? '';
  const run: UnitOfWorkFn = async (context, fn) => {
    const tenantId = context.tenantId;
    if (tenantId == null) return unitOfWork(options.databases.poolFor(context.service), context, fn, options);
    if (!UUID.test(tenantId)) throw new ValidationError('tenantId must be a UUID', { field: 'tenantId' });
    const uowOptions: UnitOfWorkOptions = { ...options, setupSelect: [`platform.tenant_fence('${tenantId}'::uuid)`] };
    for (let hop = 0; ; hop++) {
      const placed = placementOf(tenantId);
      const pool = placed === '' ? options.databases.poolFor(context.service) : options.databases.poolForUrl(placed);
      try {
        return await unitOfWork(
          pool,
          context,
          async (tx) => {
            const elsewhere = String(tx.setup[0] ?? '');
            if (elsewhere !== '' && elsewhere !== placed) throw new TenantMoved(elsewhere);
            return fn(tx);
          },
          uowOptions,
        );
      } catch (error) {
        if (!(error instanceof TenantMoved) || hop >= MAX_HOPS) throw error;
        placements.set(tenantId, error.url);
      }
    }
  };
  return { unitOfWork: run, placementOf };
}
