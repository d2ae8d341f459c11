/** The three versioned, soft-deletable menu entities staff edit through the API. */
export type MenuEntity = 'category' | 'item' | 'modifier_group';

/** Table and JSON columns of each entity (fixed identifiers; never from input). */
export const ENTITY = {
  category: {
    table: 'menu.categories',
    label: 'category',
    columns: `id, name, position, version, deleted_at as "deletedAt", updated_at as "updatedAt"`,
  },
  item: {
    table: 'menu.items',
    label: 'item',
    columns: `id, category_id as "categoryId", name, description, price, sold_out as "soldOut", version, deleted_at as "deletedAt", updated_at as "updatedAt"`,
  },
  modifier_group: {
    table: 'menu.modifier_groups',
    label: 'modifier group',
    columns: `id, item_id as "itemId", name, min_choices as "minChoices", max_choices as "maxChoices", version, deleted_at as "deletedAt", updated_at as "updatedAt",
      coalesce((select json_agg(json_build_object('id', m.id, 'name', m.name, 'priceDelta', m.price_delta) order by m.position, m.name)
                  from menu.modifiers m where m.tenant_id = modifier_groups.tenant_id and m.group_id = modifier_groups.id and m.deleted_at is null), '[]') as modifiers`,
  },
} as const;

/** A versioned row as returned to clients; `version` travels as the ETag. */
export interface Versioned {
  id: string;
  version: number;
  deletedAt: string | null;
  [field: string]: unknown;
}
