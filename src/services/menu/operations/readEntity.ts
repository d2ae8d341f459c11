import type { Tx } from '../../../platform/db/index.ts';
import { ENTITY, type MenuEntity, type Versioned } from './entities.ts';

/** One row of an entity, soft-deleted or not (orders and history still resolve deleted items). */
export async function readEntity(tx: Tx, entity: MenuEntity, tenantId: string, id: string): Promise<Versioned | null> {
  const e = ENTITY[entity];
  const row = await tx.query<Versioned>(`select ${e.columns} from ${e.table} where tenant_id = $1 and id = $2`, [tenantId, id]);
  return row.rows[0] ?? null;
}
