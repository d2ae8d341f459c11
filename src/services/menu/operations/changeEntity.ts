import type { Tx } from '../../../platform/db/index.ts';
import { ConcurrencyError, NotFoundError, UnprocessableError } from '../../../platform/errors/index.ts';
import { ENTITY, type MenuEntity, type Versioned } from './entities.ts';
import { readEntity } from './readEntity.ts';
import { requireLiveParent } from './requireLiveParent.ts';

/** What a change does besides bumping the version: set fields, soft-delete or restore. */
export type Change =
  | { readonly kind: 'update'; readonly set: Readonly<Record<string, unknown>> }
  | { readonly kind: 'delete' }
  | { readonly kind: 'restore' };

/** Column names a PATCH may set, per entity (API field → column). */
const SETTABLE: Record<MenuEntity, Record<string, string>> = {
  category: { name: 'name', position: 'position' },
  item: { name: 'name', description: 'description', price: 'price', soldOut: 'sold_out', categoryId: 'category_id' },
  modifier_group: { name: 'name', minChoices: 'min_choices', maxChoices: 'max_choices' },
};

/**
 * Optimistic offline lock: one UPDATE guarded by `version = expected`, which bumps the version. When
 * it touches nothing, a read tells a stale version (412 with the current row, so the client can show
 * "this changed since you opened it") from a row that is not there (404).
 */
export async function changeEntity(tx: Tx, entity: MenuEntity, tenantId: string, id: string, expectedVersion: number, change: Change): Promise<Versioned> {
  const e = ENTITY[entity];
  // An item moved into a deleted category would drop out of the menu without a word.
  if (entity === 'item' && change.kind === 'update' && typeof change.set.categoryId === 'string') await requireLiveParent(tx, 'category', tenantId, change.set.categoryId);
  const values: unknown[] = [tenantId, id, expectedVersion];
  const sets: string[] = ['version = version + 1', 'updated_at = now()'];
  if (change.kind === 'update') {
    for (const [field, value] of Object.entries(change.set)) {
      const column = SETTABLE[entity][field];
      if (column === undefined || value === undefined) continue;
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    }
  } else {
    sets.push(change.kind === 'delete' ? 'deleted_at = coalesce(deleted_at, now())' : 'deleted_at = null');
  }
  let updated;
  try {
    updated = await tx.query<Versioned>(`update ${e.table} set ${sets.join(', ')} where tenant_id = $1 and id = $2 and version = $3 returning ${e.columns}`, values);
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '23503') throw new NotFoundError('category');
    if (code === '23514') throw new UnprocessableError('INVALID_MENU_VALUE', `The new values break a rule of the ${e.label}: ${(error as Error).message}`);
    throw error;
  }
  const row = updated.rows[0];
  if (row !== undefined) return row;
  const current = await readEntity(tx, entity, tenantId, id);
  if (current === null) throw new NotFoundError(e.label, id);
  throw new ConcurrencyError(expectedVersion, current.version, `The ${e.label} changed since you opened it (you have version ${expectedVersion}, it is at ${current.version})`, {
    currentVersion: current.version,
    current,
  });
}
