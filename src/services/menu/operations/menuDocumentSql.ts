/** Where the four levels of a menu come from: the live views, or history rows valid at an instant. */
interface Sources {
  readonly categories: string;
  readonly items: string;
  readonly groups: string;
  readonly modifiers: string;
}

/**
 * The menu document as one JSON text built by PostgreSQL: a cache miss costs one statement and no
 * JSON work in Node, and a hit sends the stored bytes as they are. `$1` is the tenant, `$2` the
 * currency, `$3` the version; the sources are fixed relation expressions, never input.
 */
export function menuDocumentSql(s: Sources): string {
  return `
select json_build_object(
  'restaurantId', $1::uuid,
  'currency', $2::text,
  'version', $3::bigint,
  'categories', coalesce((
    select json_agg(json_build_object(
      'id', c.id, 'name', c.name, 'position', c.position,
      'items', coalesce((
        select json_agg(json_build_object(
          'id', i.id, 'name', i.name, 'description', i.description, 'price', i.price, 'soldOut', i.sold_out, 'version', i.version,
          'modifierGroups', coalesce((
            select json_agg(json_build_object(
              'id', g.id, 'name', g.name, 'minChoices', g.min_choices, 'maxChoices', g.max_choices,
              'modifiers', coalesce((
                select json_agg(json_build_object('id', m.id, 'name', m.name, 'priceDelta', m.price_delta) order by m.position, m.name)
                  from ${s.modifiers} m where m.tenant_id = g.tenant_id and m.group_id = g.id), '[]'::json)
            ) order by g.name)
              from ${s.groups} g where g.tenant_id = i.tenant_id and g.item_id = i.id), '[]'::json)
        ) order by i.name)
          from ${s.items} i where i.tenant_id = c.tenant_id and i.category_id = c.id), '[]'::json)
    ) order by c.position, c.name)
      from ${s.categories} c where c.tenant_id = $1), '[]'::json)
)::text as doc`;
}

/** History rows of one entity valid at `$4`, not deleted then, typed as the base table's rows. */
function asOf(entity: string, table: string): string {
  return `(select (jsonb_populate_record(null::${table}, h.data)).* from menu.history h
            where h.tenant_id = $1 and h.entity = '${entity}' and h.valid_from <= $4 and h.valid_to > $4 and h.data->>'deleted_at' is null)`;
}

/**
 * The live menu: soft-deleted rows left out at each level. The document descends from live
 * categories, so a row under a deleted parent is never reached; filtering each base table directly
 * (instead of the `menu.live_*` views, which re-join every parent for every row) keeps a 90 KB menu
 * to one index-driven pass.
 */
export const LIVE_MENU_SQL = menuDocumentSql({
  categories: '(select * from menu.categories where deleted_at is null)',
  items: '(select * from menu.items where deleted_at is null)',
  groups: '(select * from menu.modifier_groups where deleted_at is null)',
  modifiers: '(select * from menu.modifiers where deleted_at is null)',
});

/** The menu as it stood at `$4`, including items deleted since. */
export const MENU_AS_OF_SQL = menuDocumentSql({
  categories: asOf('category', 'menu.categories'),
  items: asOf('item', 'menu.items'),
  groups: asOf('modifier_group', 'menu.modifier_groups'),
  modifiers: asOf('modifier', 'menu.modifiers'),
});
