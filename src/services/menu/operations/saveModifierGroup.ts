import type { Tx } from '../../../platform/db/index.ts';
import { NotFoundError, UnprocessableError } from '../../../platform/errors/index.ts';
import { changeEntity, staleVersion } from './changeEntity.ts';
import type { Versioned } from './entities.ts';
import { lockMenu } from './lockMenu.ts';
import { readEntity } from './readEntity.ts';
import { requireCheapestNotNegative } from './requireCheapestNotNegative.ts';
import { requireLiveParent } from './requireLiveParent.ts';

/** A modifier as clients send it. */
export interface ModifierInput {
  readonly name: string;
  readonly priceDelta: number;
}

/** Creates a modifier group on an item, with its modifiers. */
export async function createModifierGroup(
  tx: Tx,
  tenantId: string,
  input: { itemId: string; name: string; minChoices: number; maxChoices: number; modifiers: readonly ModifierInput[] },
): Promise<Versioned> {
  checkChoices(input.minChoices, input.maxChoices, input.modifiers.length);
  await lockMenu(tx, tenantId);
  await requireLiveParent(tx, 'item', tenantId, input.itemId, 'itemId');
  let id: string;
  try {
    const row = await tx.query<{ id: string }>(`insert into menu.modifier_groups (tenant_id, item_id, name, min_choices, max_choices) values ($1, $2, $3, $4, $5) returning id`, [
      tenantId,
      input.itemId,
      input.name,
      input.minChoices,
      input.maxChoices,
    ]);
    id = row.rows[0]?.id as string;
  } catch (error) {
    if ((error as { code?: string }).code === '23503') throw new NotFoundError('item', input.itemId);
    throw error;
  }
  await replaceModifiers(tx, tenantId, id, input.modifiers);
  await requireCheapestNotNegative(tx, tenantId, input.itemId, 'modifiers');
  return (await readEntity(tx, 'modifier_group', tenantId, id)) as Versioned;
}

/** Changes a group under its version; `modifiers`, when given, replaces the list (old ones soft-deleted). */
export async function updateModifierGroup(
  tx: Tx,
  tenantId: string,
  id: string,
  expectedVersion: number,
  input: { name?: string; minChoices?: number; maxChoices?: number; modifiers?: readonly ModifierInput[] },
): Promise<Versioned> {
  const { modifiers, ...fields } = input;
  if (input.minChoices !== undefined || input.maxChoices !== undefined) {
    // The range is checked against the stored bound it keeps, before the UPDATE: the table's own check
    // would otherwise answer first, with PostgreSQL's message and no field. The version first: a client
    // whose copy is stale gets the 412 with the current group, not a 422 about a bound it never saw.
    const current = (await readEntity(tx, 'modifier_group', tenantId, id)) as (Versioned & { minChoices: number; maxChoices: number }) | null;
    if (current === null) throw new NotFoundError('modifier group', id);
    if (current.version !== expectedVersion) throw staleVersion('modifier_group', expectedVersion, current);
    if (current.deletedAt === null) checkRange(input.minChoices ?? current.minChoices, input.maxChoices ?? current.maxChoices);
  }
  // changeEntity takes the menu's lock (lockMenu) before its UPDATE; the read above locks nothing.
  const updated = await changeEntity(tx, 'modifier_group', tenantId, id, expectedVersion, { kind: 'update', set: fields });
  if (modifiers !== undefined) await replaceModifiers(tx, tenantId, id, modifiers);
  const group = (await readEntity(tx, 'modifier_group', tenantId, id)) as Versioned & { itemId: string; minChoices: number; maxChoices: number; modifiers: unknown[] };
  checkChoices(group.minChoices, group.maxChoices, group.modifiers.length);
  // What the item's cheapest order costs, when this changed what may be chosen (a name does not).
  const choices = modifiers !== undefined ? 'modifiers' : input.maxChoices !== undefined ? 'maxChoices' : input.minChoices !== undefined ? 'minChoices' : undefined;
  if (choices !== undefined) await requireCheapestNotNegative(tx, tenantId, group.itemId, choices);
  return { ...group, version: updated.version };
}

async function replaceModifiers(tx: Tx, tenantId: string, groupId: string, modifiers: readonly ModifierInput[]): Promise<void> {
  await tx.query(`update menu.modifiers set deleted_at = now(), version = version + 1, updated_at = now() where tenant_id = $1 and group_id = $2 and deleted_at is null`, [
    tenantId,
    groupId,
  ]);
  if (modifiers.length === 0) return;
  await tx.query(
    `insert into menu.modifiers (tenant_id, group_id, name, price_delta, position)
     select $1, $2, m.name, m.price_delta, m.position - 1
       from unnest($3::text[], $4::int[]) with ordinality as m(name, price_delta, position)`,
    [tenantId, groupId, modifiers.map((m) => m.name), modifiers.map((m) => m.priceDelta)],
  );
}

function checkRange(min: number, max: number): void {
  if (min > max) throw new UnprocessableError('INVALID_MENU_VALUE', `minChoices (${min}) exceeds maxChoices (${max})`, { field: 'minChoices' });
}

function checkChoices(min: number, max: number, count: number): void {
  checkRange(min, max);
  if (min > count) throw new UnprocessableError('INVALID_MENU_VALUE', `minChoices (${min}) exceeds the number of modifiers (${count})`, { field: 'minChoices' });
}

