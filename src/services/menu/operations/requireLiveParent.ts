import type { Tx } from '../../../platform/db/index.ts';
import { NotFoundError, UnprocessableError } from '../../../platform/errors/index.ts';

/** A menu row a client restores (`POST …/menu/<path>/<id>/restore`) before what is under it. */
interface Ancestor {
  readonly entity: 'category' | 'item';
  readonly id: string;
}

/**
 * The parent and, for an item, its category, each with whether it is deleted, locked: a delete of
 * either waits for this transaction (and this waits for one in flight, then reads what it left). A
 * category is share-locked; an item, the parent of modifier groups, `FOR NO KEY UPDATE`, so that the
 * group writes of one item take turns and each one's cheapest-order check sees the others'
 * (`requireCheapestOrderable`; share locks there would deadlock when both upgrade).
 */
const CHAIN = {
  category: `select c.id as "categoryId", c.deleted_at is not null as "categoryDeleted", null::uuid as "itemId", false as "itemDeleted"
               from menu.categories c where c.tenant_id = $1 and c.id = $2 for share`,
  item: `select c.id as "categoryId", c.deleted_at is not null as "categoryDeleted", i.id as "itemId", i.deleted_at is not null as "itemDeleted"
           from menu.items i join menu.categories c on c.tenant_id = i.tenant_id and c.id = i.category_id
          where i.tenant_id = $1 and i.id = $2 for no key update of i for share of c`,
} as const;

const PATHS = { category: 'categories', item: 'items' } as const;

/**
 * 422 `MENU_PARENT_NOT_FOUND` naming `field`: the request chose a parent (`categoryId`, `itemId`) that
 * is not one of the restaurant's, unknown or another restaurant's (the same answer for both, as RLS
 * shows the one no more than the other). A 422 like `MENU_PARENT_DELETED`, not the 404 it was: a 404
 * reads as if the row the URL addresses were gone, and named no field (decision 0021).
 */
export function unknownParent(parent: keyof typeof CHAIN, id: string, field: string): UnprocessableError {
  return new UnprocessableError('MENU_PARENT_NOT_FOUND', `There is no ${parent} ${id} on this restaurant's menu: choose one of its ${PATHS[parent]} (GET …/menu lists them)`, {
    field,
    [field]: id,
  });
}

/**
 * Refuses a write under a parent that is not live (decision 0083): a create under it, a change of a
 * row under it, or a restore of one. Another tenant's parent or a missing one is a 422
 * `MENU_PARENT_NOT_FOUND` naming `field` when the client chose it ({@link unknownParent}), else a 404; a parent that is
 * soft-deleted, or whose own parent is (an item's category), a 422 `MENU_PARENT_DELETED` whose
 * `restoreFirst` lists what to restore, top down. Before, only the immediate parent was looked at, and
 * restores looked at nothing: a modifier group went onto an item of a deleted category, and an item
 * came back into a deleted one, each silently out of the menu, the search and pricing.
 *
 * @param field the request field that chose the parent (`categoryId`, `itemId`), when the client chose it.
 */
export async function requireLiveParent(tx: Tx, parent: keyof typeof CHAIN, tenantId: string, id: string, field?: string): Promise<void> {
  const { rows } = await tx.query<{ categoryId: string; categoryDeleted: boolean; itemId: string | null; itemDeleted: boolean }>(CHAIN[parent], [tenantId, id]);
  const row = rows[0];
  if (row === undefined) throw field === undefined ? new NotFoundError(parent, id) : unknownParent(parent, id, field);
  const restoreFirst: Ancestor[] = [];
  if (row.categoryDeleted) restoreFirst.push({ entity: 'category', id: row.categoryId });
  if (row.itemDeleted && row.itemId !== null) restoreFirst.push({ entity: 'item', id: row.itemId });
  if (restoreFirst.length === 0) return;
  const what =
    parent === 'category' ? `The category ${id} is deleted` : row.itemDeleted ? `The item ${id}${row.categoryDeleted ? ` and its category ${row.categoryId} are` : ' is'} deleted` : `The item ${id} is in the deleted category ${row.categoryId}`;
  const steps = restoreFirst.map((a, i) => `${i === 0 ? 'restore' : 'then'} the ${a.entity}${i === 0 ? ' first' : ''} (POST …/menu/${PATHS[a.entity]}/${a.id}/restore)`).join(', ');
  throw new UnprocessableError('MENU_PARENT_DELETED', `${what}: ${steps}${field === undefined ? '' : `, or choose a live ${parent}`}`, {
    ...(field === undefined ? {} : { field }),
    restoreFirst,
  });
}
