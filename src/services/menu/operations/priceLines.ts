import type { Tx } from '../../../platform/db/index.ts';
import { UnprocessableError } from '../../../platform/errors/index.ts';
import { instantText } from './instantText.ts';

/** A line to price: an item, how many, and the chosen modifiers. */
export interface PriceLineRequest {
  readonly itemId: string;
  readonly quantity: number;
  readonly modifierIds: readonly string[];
}

/** A line priced from the live menu (currency added by the caller, who knows the restaurant). */
export interface PricedMenuLine {
  readonly itemId: string;
  readonly itemVersion: number;
  readonly name: string;
  readonly unitPrice: number;
  readonly modifiers: ReadonlyArray<{ readonly modifierId: string; readonly name: string; readonly priceDelta: number }>;
}

/** Priced lines, one per requested line, and the instant the prices were read at. */
export interface PricedMenu {
  /**
   * `clock_timestamp()` (RFC 3339 in UTC, to the microsecond, as `/history` gives instants) read by the
   * pricing statement after its snapshot: every version it priced was dated (at its commit, decision
   * 0021) before then, so `?asOf=<pricedAt>` has these prices.
   */
  readonly pricedAt: string;
  readonly lines: PricedMenuLine[];
}

/** RFC 3339 in UTC with all six fraction digits: the history's own precision (a millisecond could fall before a version's start). */
const INSTANT_NOW = instantText('clock_timestamp()');

interface ItemRow {
  priced_at: string;
  id: string;
  version: number;
  name: string;
  price: number;
  sold_out: boolean;
  groups: Array<{ id: string; name: string; minChoices: number; maxChoices: number; modifiers: Array<{ id: string; name: string; priceDelta: number }> }>;
}

/**
 * Prices lines against a restaurant's live menu (the `live_*` views: soft-deleted items, and items
 * under a deleted category, are unavailable), one result per line, in order, and the instant the
 * prices were read at (see {@link PricedMenu.pricedAt}). The ordering service asks this through its
 * `MenuCatalog` port at placement, and places the order at that instant.
 *
 * @throws {UnprocessableError} `MENU_ITEM_UNAVAILABLE` (unknown or deleted item), `MENU_ITEM_SOLD_OUT`,
 *   `MODIFIER_CHOICE_INVALID` (a modifier not offered on the item, chosen twice, or a group's choices
 *   outside its min/max) — all 422, with the item (and group) in the details.
 */
export async function priceLines(tx: Tx, tenantId: string, lines: readonly PriceLineRequest[]): Promise<PricedMenu> {
  if (lines.length === 0) return { pricedAt: (await tx.query<{ at: string }>(`select ${INSTANT_NOW} as at`)).rows[0]!.at, lines: [] };
  const ids = [...new Set(lines.map((l) => l.itemId))];
  // One statement: the items with their live groups and modifiers as JSON, and the instant they were
  // read at. The clock is read by the statement (an uncorrelated subquery: once, as its first row is
  // made), so after its snapshot: a version it sees committed, and was dated, before (0021's commit-time
  // dating). Read before the statement, a version committed in between would be charged from before it
  // started. A version dated but not yet visible (its COMMIT's last moment, 0021's "Left") is not seen.
  const { rows } = await tx.query<ItemRow>(
    `select (select ${INSTANT_NOW}) as priced_at, i.id, i.version, i.name, i.price, i.sold_out,
            coalesce((select json_agg(json_build_object(
                       'id', g.id, 'name', g.name, 'minChoices', g.min_choices, 'maxChoices', g.max_choices,
                       'modifiers', coalesce((select json_agg(json_build_object('id', m.id, 'name', m.name, 'priceDelta', m.price_delta))
                                                from menu.live_modifiers m where m.tenant_id = g.tenant_id and m.group_id = g.id), '[]'::json)))
                        from menu.live_modifier_groups g where g.tenant_id = i.tenant_id and g.item_id = i.id), '[]'::json) as groups
       from menu.live_items i
      where i.tenant_id = $1 and i.id = any($2::uuid[])`,
    [tenantId, ids],
  );
  const items = new Map(rows.map((r) => [r.id, r]));
  const priced = lines.map((line): PricedMenuLine => {
    const item = items.get(line.itemId);
    if (item === undefined) throw new UnprocessableError('MENU_ITEM_UNAVAILABLE', `Item ${line.itemId} is not on this restaurant's menu (unknown or deleted)`, { itemId: line.itemId });
    if (item.sold_out) throw new UnprocessableError('MENU_ITEM_SOLD_OUT', `${item.name} is sold out`, { itemId: item.id });
    const chosen = new Set(line.modifierIds);
    if (chosen.size !== line.modifierIds.length) throw new UnprocessableError('MODIFIER_CHOICE_INVALID', `A modifier is chosen twice on ${item.name}`, { itemId: item.id });
    // A modifier the item does not offer, before the groups' counts: most often one that staff removed,
    // or changed the price of, since the customer's menu was loaded, and "choose 1 of Size (chose 0)"
    // about a size the customer did choose would not say so.
    const offered = new Set(item.groups.flatMap((g) => g.modifiers.map((m) => m.id)));
    const unknown = line.modifierIds.find((id) => !offered.has(id));
    if (unknown !== undefined) {
      throw new UnprocessableError(
        'MODIFIER_CHOICE_INVALID',
        `${item.name} does not offer modifier ${unknown}: the menu changed since you loaded it (or the modifier is another item's): reload the menu and choose again`,
        { itemId: item.id, modifierId: unknown },
      );
    }
    const modifiers: Array<{ modifierId: string; name: string; priceDelta: number }> = [];
    for (const group of item.groups) {
      const picked = group.modifiers.filter((m) => chosen.has(m.id));
      if (picked.length < group.minChoices || picked.length > group.maxChoices) {
        throw new UnprocessableError(
          'MODIFIER_CHOICE_INVALID',
          `${item.name}: choose ${group.minChoices === group.maxChoices ? group.minChoices : `${group.minChoices}–${group.maxChoices}`} of ${group.name} (chose ${picked.length})`,
          { itemId: item.id, groupId: group.id },
        );
      }
      for (const m of picked) modifiers.push({ modifierId: m.id, name: m.name, priceDelta: m.priceDelta });
    }
    return { itemId: item.id, itemVersion: item.version, name: item.name, unitPrice: item.price, modifiers };
  });
  // Every line found an item (else it threw above), so there is a row.
  return { pricedAt: rows[0]!.priced_at, lines: priced };
}
