import { unitOfWork, type Databases } from '../db/index.ts';
import { boundedUntil } from '../db/localTimeouts.ts';
import { listDedicatedDatabases } from './listDedicatedDatabases.ts';

/**
 * One read of the placement catalog's dedicated databases (`listDedicatedDatabases`), as the one
 * reader allowed to see its connection strings: the platform service, with an admin actor named
 * `actorId` (the catalog's policies show them to admins only), read-only, on the platform's pool.
 * Feed it to `createPlacementCatalog` for a cached view.
 *
 * With `until` (ms since the epoch), the read is bounded in the database by then (`statement_timeout`
 * and `lock_timeout`, {@link boundedUntil}): a read stuck behind a lock on the catalog (a migration's
 * ALTER, a VACUUM FULL) fails with SQLSTATE 55P03 or 57014 and gives its connection back, instead of
 * holding one of the platform's pool until the lock goes.
 *
 * @example
 * const catalog = createPlacementCatalog(() => readPlacementCatalog(databases, 'placement-catalog', Date.now() + 1800));
 */
export function readPlacementCatalog(databases: Databases, actorId: string, until?: number): Promise<string[]> {
  return unitOfWork(
    databases.poolFor('platform'),
    { service: 'platform', actor: { kind: 'admin', id: actorId }, readOnly: true },
    listDedicatedDatabases,
    boundedUntil(until),
  );
}
