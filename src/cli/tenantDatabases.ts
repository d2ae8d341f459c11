import type pg from 'pg';
import { SHARED_SERVICE_NAMES } from '../composition/services.ts';
import { databaseLabel } from '../platform/db/createDatabases.ts';
import type { Databases } from '../platform/db/index.ts';
import { readPlacementCatalog } from '../platform/tenancy/readPlacementCatalog.ts';

/** A database that holds tenant rows of a service, as a command shows it: by its label, never its connection string. */
export interface TenantDatabase {
  /** The pool's label from `createDatabases` (`main`, the service names of a `<SERVICE>_DATABASE_URL`, or `db-` and 8 hex digits for a dedicated database: `databaseLabel`). */
  readonly label: string;
  readonly pool: pg.Pool;
}

/**
 * Every database that holds `service`'s tenant rows (decision 0008): the service's own (shared) one
 * first, then each dedicated database of the placement catalog, in the catalog's order. A service
 * whose tenant rows stay shared (delivery) has only the first. The catalog is read (readPlacementCatalog) as the platform
 * service with an admin actor, the one actor that may see its connection strings; they go no further
 * than `databases.poolForUrl`, and commands print the labels.
 *
 * @example
 * for (const { label, pool } of await tenantDatabases(databases, 'ordering')) io.out(`${label}: …`);
 */
export async function tenantDatabases(databases: Databases, service: string): Promise<TenantDatabase[]> {
  const shared = databases.poolFor(service);
  const found: TenantDatabase[] = [{ label: databases.labelOf(shared) ?? service, pool: shared }];
  if (!SHARED_SERVICE_NAMES.includes(service)) {
    const urls = await readPlacementCatalog(databases, 'brigade-cli');
    for (const url of urls) {
      const pool = databases.poolForUrl(url);
      if (!found.some((f) => f.pool === pool)) found.push({ label: databases.labelOf(pool) ?? databaseLabel(url), pool });
    }
  }
  return found;
}
