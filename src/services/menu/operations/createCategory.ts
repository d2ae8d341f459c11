import type { Tx } from '../../../platform/db/index.ts';
import { ENTITY, type Versioned } from './entities.ts';
import { lockMenu } from './lockMenu.ts';

/** Adds a category to the restaurant's menu (the menu's lock first, {@link lockMenu}). */
export async function createCategory(tx: Tx, tenantId: string, input: { name: string; position?: number }): Promise<Versioned> {
  await lockMenu(tx, tenantId);
  const row = await tx.query<Versioned>(`insert into menu.categories (tenant_id, name, position) values ($1, $2, $3) returning ${ENTITY.category.columns}`, [
    tenantId,
    input.name,
    input.position ?? 0,
  ]);
  return row.rows[0] as Versioned;
}
