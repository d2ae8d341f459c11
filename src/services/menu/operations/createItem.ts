import type { Tx } from '../../../platform/db/index.ts';
import { ENTITY, type Versioned } from './entities.ts';
import { lockMenu } from './lockMenu.ts';
import { requireLiveParent, unknownParent } from './requireLiveParent.ts';

/** Adds an item to one of the restaurant's live categories (an unknown or another tenant's category is a 422 `MENU_PARENT_NOT_FOUND`, a deleted one a 422 `MENU_PARENT_DELETED`, both naming `categoryId`). */
export async function createItem(tx: Tx, tenantId: string, input: { categoryId: string; name: string; description?: string; price: number; soldOut?: boolean }): Promise<Versioned> {
  await lockMenu(tx, tenantId);
  await requireLiveParent(tx, 'category', tenantId, input.categoryId, 'categoryId');
  try {
    const row = await tx.query<Versioned>(
      `insert into menu.items (tenant_id, category_id, name, description, price, sold_out) values ($1, $2, $3, $4, $5, $6) returning ${ENTITY.item.columns}`,
      [tenantId, input.categoryId, input.name, input.description ?? '', input.price, input.soldOut ?? false],
    );
    return row.rows[0] as Versioned;
  } catch (error) {
    if ((error as { code?: string }).code === '23503') throw unknownParent('category', input.categoryId, 'categoryId');
    throw error;
  }
}
