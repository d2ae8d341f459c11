import type { Tx } from '../../../platform/db/index.ts';
import { NotFoundError, UnprocessableError } from '../../../platform/errors/index.ts';
import { changeEntity, staleVersion } from './changeEntity.ts';
import type { Versioned } from './entities.ts';
import { lockMenu } from './lockMenu.ts';
import { readEntity } from './readEntity.ts';
import { requireCheapestOrderable } from './requireCheapestOrderable.ts';
import { requireLiveParent, unknownParent } from './requireLiveParent.ts';

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
    if ((error as { code?: string }).code === '23503') throw unknownParent('item', input.itemId, 'itemId');
    throw error;
  }
  await replaceModifiers(tx, tenantId, id, input.modifiers);
  await requireCheapestOrderable(tx, tenantId, input.itemId, 'modifiers');
  return (await readEntity(tx, 'modifier_group', tenantId, id)) as Versioned;
}

/** Changes a group under its version; `modifiers`, when given, replaces the list (those it drops soft-deleted, those it keeps kept: {@link replaceModifiers}). */
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
  if (choices !== undefined) await requireCheapestOrderable(tx, tenantId, group.itemId, choices);
  return { ...group, version: updated.version };
}

/**
 * Makes the group's live modifiers the list sent, in its order. A modifier sent as one of the group has
 * it (same name and price delta; the first of equal ones with the first) keeps its row and id, moved to
 * its new place when that changed; the group's other live modifiers are soft-deleted and the rest of
 * the list inserted. Before, every save soft-deleted them all and inserted the list anew: every id
 * changed, and a customer who had chosen from the menu before the save was told the item "does not
 * offer" a modifier that was still on it.
 */
async function replaceModifiers(tx: Tx, tenantId: string, groupId: string, modifiers: readonly ModifierInput[]): Promise<void> {
  // One statement: the list sent paired with the live rows by (name, delta, how many such before it).
  await tx.query(
    `with wanted as (
       select w.name, w.price_delta, w.position - 1 as position,
              row_number() over (partition by w.name, w.price_delta order by w.position) as n
         from unnest($3::text[], $4::int[]) with ordinality as w(name, price_delta, position)
     ), live as (
       select m.id, m.name, m.price_delta, m.position,
              row_number() over (partition by m.name, m.price_delta order by m.position, m.id) as n
         from menu.modifiers m where m.tenant_id = $1 and m.group_id = $2 and m.deleted_at is null
     ), paired as (
       select l.id, l.position as was, w.name, w.price_delta, w.position
         from wanted w full join live l on l.name = w.name and l.price_delta = w.price_delta and l.n = w.n
     ), dropped as (
       update menu.modifiers m set deleted_at = now(), version = m.version + 1, updated_at = now()
         from paired p where p.name is null and m.tenant_id = $1 and m.id = p.id
     ), moved as (
       update menu.modifiers m set position = p.position, version = m.version + 1, updated_at = now()
         from paired p where p.id is not null and p.name is not null and p.was <> p.position and m.tenant_id = $1 and m.id = p.id
     )
     insert into menu.modifiers (tenant_id, group_id, name, price_delta, position)
     select $1, $2, p.name, p.price_delta, p.position from paired p where p.id is null`,
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

