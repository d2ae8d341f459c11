import { instantText } from './instantText.ts';

/** Where the four levels of a menu come from: the live views, or history rows valid at an instant. */
interface Sources {
  /** A query of one row, `version`: the document's version, read in the document's own statement. */
  readonly version: string;
  readonly categories: string;
  readonly items: string;
  readonly groups: string;
  readonly modifiers: string;
  /**
   * The restaurant's pause of new orders in force (zero or one row of `menu.order_pauses`: `tenant_id`,
   * `reason`, `until`, `paused_at`), or null for a document without that state (decision 0094).
   */
  readonly pause: string | null;
}

/**
 * The menu document as one JSON text built by PostgreSQL: a cache miss costs one statement and no
 * JSON work in Node, and a hit sends the stored bytes as they are. `$1` is the tenant, `$2` the
 * currency; the sources are fixed relation expressions, never input. The statement returns `doc` and
 * `version`: the version is read in the same statement, so under one snapshot with the content. (Read
 * by a statement of its own before, under READ COMMITTED, a change committed between the two
 * labelled the new content with the old version, and the ETag `menu-<version>` then named two
 * documents.) Every level is in a total order, its id last: rows tied on name (or position and name)
 * came out as the plan read them, so one version could be sent as two byte-different documents.
 *
 * With a `pause` source (the live menu), the document also says whether the restaurant takes orders
 * at the statement's `now()` (`takingOrders`, and `pause`: `{ reason, until, since }` or null), and the
 * statement returns `paused`, `paused_until_ms` (the `until` in epoch milliseconds, rounded up) for
 * the ETag, and `paused_left_ms` (how long the pause has left by the database's clock, `until - now()`
 * in milliseconds, rounded down) for the cache, which must never compare the database's instant with
 * the app's clock (decision 0094).
 */
export function menuDocumentSql(s: Sources): string {
  return `
select json_build_object(
  'restaurantId', $1::uuid,
  'currency', $2::text,
  'version', v.version,${s.pause === null ? '' : `
  'takingOrders', p.tenant_id is null,
  'pause', case when p.tenant_id is not null then json_build_object('reason', p.reason, 'until', ${instantText('p.until')}, 'since', ${instantText('p.paused_at')}) end,`}
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
                select json_agg(json_build_object('id', m.id, 'name', m.name, 'priceDelta', m.price_delta) order by m.position, m.name, m.id)
                  from ${s.modifiers} m where m.tenant_id = g.tenant_id and m.group_id = g.id), '[]'::json)
            ) order by g.name, g.id)
              from ${s.groups} g where g.tenant_id = i.tenant_id and g.item_id = i.id), '[]'::json)
        ) order by i.name, i.id)
          from ${s.items} i where i.tenant_id = c.tenant_id and i.category_id = c.id), '[]'::json)
    ) order by c.position, c.name, c.id)
      from ${s.categories} c where c.tenant_id = $1), '[]'::json)
)::text as doc, v.version${s.pause === null ? '' : `, p.tenant_id is not null as paused, ceil(extract(epoch from p.until) * 1000)::float8 as paused_until_ms, floor(extract(epoch from p.until - now()) * 1000)::float8 as paused_left_ms`}
  from (${s.version}) v${s.pause === null ? '' : ` left join (${s.pause}) p on true`}`;
}

/** History rows of one entity valid at `$3`, not deleted then, typed as the base table's rows. */
function asOf(entity: string, table: string): string {
  return `(select (jsonb_populate_record(null::${table}, h.data)).* from menu.history h
            where h.tenant_id = $1 and h.entity = '${entity}' and h.valid_from <= $3::timestamptz and h.valid_to > $3::timestamptz and h.data->>'deleted_at' is null)`;
}

/**
 * The live menu: soft-deleted rows left out at each level. The document descends from live
 * categories, so a row under a deleted parent is never reached; filtering each base table directly
 * (instead of the `menu.live_*` views, which re-join every parent for every row) keeps a 90 KB menu
 * to one index-driven pass.
 */
export const LIVE_MENU_SQL = menuDocumentSql({
  version: 'select coalesce((select version from menu.menu_versions where tenant_id = $1), 0)::bigint as version',
  categories: '(select * from menu.categories where deleted_at is null)',
  items: '(select * from menu.items where deleted_at is null)',
  groups: '(select * from menu.modifier_groups where deleted_at is null)',
  modifiers: '(select * from menu.modifiers where deleted_at is null)',
  // The pause in force at the statement's now(): one whose `until` has passed is over (decision 0094).
  pause: '(select * from menu.order_pauses where tenant_id = $1 and (until is null or until > now()))',
});

/**
 * The menu as it stood at `$3`, including items deleted since: the document of {@link menuDocumentSql},
 * built bottom-up. Its version is the number of history rows begun by then. Each level's history rows
 * valid at `$3` are read ONCE and grouped by parent
 * (modifiers by group, groups by item, items by category), then joined to their parents by hash. The
 * live shape's correlated subqueries would, over history, scan every item's history valid then again
 * for each category (and every modifier's for each group): rows of jsonb that no index can reach by
 * parent, so a menu with a long history cost the product of its levels.
 */
export const MENU_AS_OF_SQL = `
with m as (
  select x.group_id, json_agg(json_build_object('id', x.id, 'name', x.name, 'priceDelta', x.price_delta) order by x.position, x.name, x.id) as list
    from ${asOf('modifier', 'menu.modifiers')} x group by x.group_id
), g as (
  select x.item_id, json_agg(json_build_object(
           'id', x.id, 'name', x.name, 'minChoices', x.min_choices, 'maxChoices', x.max_choices, 'modifiers', coalesce(m.list, '[]'::json)
         ) order by x.name, x.id) as list
    from ${asOf('modifier_group', 'menu.modifier_groups')} x left join m on m.group_id = x.id group by x.item_id
), i as (
  select x.category_id, json_agg(json_build_object(
           'id', x.id, 'name', x.name, 'description', x.description, 'price', x.price, 'soldOut', x.sold_out, 'version', x.version,
           'modifierGroups', coalesce(g.list, '[]'::json)
         ) order by x.name, x.id) as list
    from ${asOf('item', 'menu.items')} x left join g on g.item_id = x.id group by x.category_id
)
select json_build_object(
  'restaurantId', $1::uuid,
  'currency', $2::text,
  'version', v.version,
  'categories', coalesce((
    select json_agg(json_build_object('id', c.id, 'name', c.name, 'position', c.position, 'items', coalesce(i.list, '[]'::json)) order by c.position, c.name, c.id)
      from ${asOf('category', 'menu.categories')} c left join i on i.category_id = c.id), '[]'::json)
)::text as doc, v.version
  from (select count(*)::bigint as version from menu.history where tenant_id = $1 and valid_from <= $3::timestamptz) v`;
