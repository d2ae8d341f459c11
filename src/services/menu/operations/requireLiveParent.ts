import type { Tx } from '../../../platform/db/index.ts';
import { NotFoundError, UnprocessableError } from '../../../platform/errors/index.ts';

const PARENTS = {
  category: 'menu.categories',
  item: 'menu.items',
} as const;

/**
 * Refuses a write under a parent that is not live: another tenant's or a missing one is a 404, a
 * soft-deleted one a 422 `MENU_PARENT_DELETED` (before, the foreign key let an item into a deleted
 * category, where it silently dropped out of the menu, the search and pricing). The parent's row is
 * locked in share mode, so a delete of it waits for this transaction (and this waits for one in flight).
 */
export async function requireLiveParent(tx: Tx, parent: keyof typeof PARENTS, tenantId: string, id: string): Promise<void> {
  const { rows } = await tx.query<{ deleted: boolean }>(`select deleted_at is not null as deleted from ${PARENTS[parent]} where tenant_id = $1 and id = $2 for share`, [tenantId, id]);
  const row = rows[0];
  if (row === undefined) throw new NotFoundError(parent, id);
  if (row.deleted) throw new UnprocessableError('MENU_PARENT_DELETED', `The ${parent} ${id} is deleted: restore it first, or choose a live one`, { field: `${parent}Id` });
}
