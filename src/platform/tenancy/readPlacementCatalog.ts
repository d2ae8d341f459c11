import { unitOfWork, type Databases } from '../db/index.ts';
import { listDedicatedDatabases } from './listDedicatedDatabases.ts';

/**
 * One read of the placement catalog's dedicated databases (`listDedicatedDatabases`), as the one
 * reader allowed to see its connection strings: the platform service, with an admin actor named
 * `actorId` (the catalog's policies show them to admins only), read-only, on the platform's pool.
 * Feed it to `createPlacementCatalog` for a cached view.
 *
 * @example
 * const catalog = createPlacementCatalog(() => readPlacementCatalog(databases, 'placement-catalog'));
 */
export function readPlacementCatalog(databases: Databases, actorId: string): Promise<string[]> {
  return unitOfWork(databases.poolFor('platform'), { service: 'platform', actor: { kind: 'admin', id: actorId }, readOnly: true }, listDedicatedDatabases);
}
