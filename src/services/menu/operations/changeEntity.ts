import type { Tx } from '../../../platform/db/index.ts';
import { ConcurrencyError, NotFoundError, UnprocessableError } from '../../../platform/errors/index.ts';
import { ENTITY, type MenuEntity, type Versioned } from './entities.ts';
import { lockMenu } from './lockMenu.ts';
import { readEntity } from './readEntity.ts';
import { requireCheapestOrderable } from './requireCheapestOrderable.ts';
import { requireLiveParent, unknownParent } from './requireLiveParent.ts';

/**
 * What a change does besides bumping the version: set fields, soft-delete, or restore (setting the
 * fields given in the same UPDATE, so that a row comes back changed, never as it was deleted).
 */
export type Change =
  | { readonly kind: 'update'; readonly set: Readonly<Record<string, unknown>> }
  | { readonly kind: 'delete' }
  | { readonly kind: 'restore'; readonly set?: Readonly<Record<string, unknown>> };

/** Column names a PATCH (and a restore, of a category or an item) may set, per entity (API field → column). */
const SETTABLE: Record<MenuEntity, Record<string, string>> = {
  category: { name: 'name', position: 'position' },
  item: { name: 'name', description: 'description', price: 'price', soldOut: 'sold_out', categoryId: 'category_id' },
  modifier_group: { name: 'name', minChoices: 'min_choices', maxChoices: 'max_choices' },
};

/**
 * 422: the row is at the version sent, but deleted for a change or a delete, or live for a restore. A
 * change of a deleted category or item points at the restore that takes the change in its body.
 */
function notNow(entity: MenuEntity, id: string, kind: Change['kind']): UnprocessableError {
  const { label } = ENTITY[entity];
  if (kind === 'restore') return new UnprocessableError('MENU_ENTITY_NOT_DELETED', `The ${label} ${id} is not deleted, so there is nothing to restore`, { id });
  const next =
    kind === 'delete'
      ? `restore it first (POST …/${id}/restore), then delete it again if you must`
      : entity === 'modifier_group'
        ? `restore it first (POST …/${id}/restore), then change it`
        : `restore it with the change in the restore's body (POST …/${id}/restore with {"${entity === 'item' ? 'price' : 'name'}": …}), so that it comes back changed`;
  return new UnprocessableError('MENU_ENTITY_DELETED', `The ${label} ${id} is deleted; ${next}`, { id });
}

/**
 * Optimistic offline lock: one UPDATE guarded by `version = expected`, which bumps the version (a
 * restore with fields sets them in that same UPDATE, checked as a change of them is). When
 * it touches nothing, a read tells a stale version (412 with the current row, so the client can show
 * "this changed since you opened it") from a row that is not there (404), and from a row at that
 * version that the change does not fit (422): a change or a delete of a deleted row, a restore of a
 * live one. Those appended a version and a history row before, and left the row as it was.
 */
export async function changeEntity(tx: Tx, entity: MenuEntity, tenantId: string, id: string, expectedVersion: number, change: Change): Promise<Versioned> {
  const e = ENTITY[entity];
  const values: unknown[] = [tenantId, id, expectedVersion];
  const sets: string[] = ['version = version + 1', 'updated_at = now()'];
  // The fields to set: a change's, or a restore's (in the same guarded UPDATE, so that the row is never
  // live as it was deleted: a restore then a PATCH left it orderable at its old price in between).
  const set = change.kind === 'delete' ? {} : (change.set ?? {});
  for (const [field, value] of Object.entries(set)) {
    const column = SETTABLE[entity][field];
    if (column === undefined || value === undefined) continue;
    values.push(value);
    sets.push(`${column} = $${values.length}`);
  }
  if (change.kind !== 'update') sets.push(change.kind === 'delete' ? 'deleted_at = now()' : 'deleted_at = null');
  // A change, and a delete, of a live row; a restore of a deleted one.
  const live = change.kind === 'restore' ? 'deleted_at is not null' : 'deleted_at is null';
  // The menu's lock before any row's (lockMenu): one lock order for every menu write.
  await lockMenu(tx, tenantId);
  let updated;
  try {
    updated = await tx.query<Versioned>(`update ${e.table} set ${sets.join(', ')} where tenant_id = $1 and id = $2 and version = $3 and ${live} returning ${e.columns}`, values);
  } catch (error) {
    const code = (error as { code?: string }).code;
    // Only an item's category_id refers to a row a PATCH may choose: the category sent is not the restaurant's.
    if (code === '23503') throw typeof set.categoryId === 'string' ? unknownParent('category', set.categoryId, 'categoryId') : new NotFoundError('category');
    if (code === '23514') throw new UnprocessableError('INVALID_MENU_VALUE', `The new values break a rule of the ${e.label}: ${(error as Error).message}`);
    throw error;
  }
  const row = updated.rows[0];
  if (row !== undefined) {
    // A change or a restore of a row under a deleted parent (or grandparent) would drop out of the menu
    // without a word; checked after the guarded UPDATE, so that a stale version is a 412 first, and the
    // refusal rolls the UPDATE back. A delete needs no live parent.
    if (change.kind !== 'delete' && entity !== 'category') {
      const moved = entity === 'item' && typeof set.categoryId === 'string';
      await requireLiveParent(tx, entity === 'item' ? 'category' : 'item', tenantId, String(entity === 'item' ? row.categoryId : row.itemId), moved ? 'categoryId' : undefined);
    }
    // What an item's cheapest order costs changes with its price (a change's or a restore's) and with its
    // groups coming and going (a group's own fields and modifiers: updateModifierGroup, after it replaced them).
    if (entity === 'item' && set.price !== undefined) await requireCheapestOrderable(tx, tenantId, row.id, 'price');
    if (entity === 'modifier_group' && change.kind !== 'update') await requireCheapestOrderable(tx, tenantId, String(row.itemId));
    return row;
  }
  const current = await readEntity(tx, entity, tenantId, id);
  if (current === null) throw new NotFoundError(e.label, id);
  if (current.version === expectedVersion) throw notNow(entity, id, change.kind);
  throw staleVersion(entity, expectedVersion, current);
}

/**
 * 412 for a change sent from `expectedVersion` of a row now at `current.version`, carrying the current
 * row so that the client can show what changed.
 */
export function staleVersion(entity: MenuEntity, expectedVersion: number, current: Versioned): ConcurrencyError {
  const { label } = ENTITY[entity];
  return new ConcurrencyError(expectedVersion, current.version, `The ${label} changed since you opened it (you have version ${expectedVersion}, it is at ${current.version}): read it again, then send your change with If-Match: "${current.version}" if it still applies`, {
    currentVersion: current.version,
    current,
  });
}
