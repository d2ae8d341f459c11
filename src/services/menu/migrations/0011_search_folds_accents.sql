-- Menu search folds accents (decision 0093): `creme` finds "Crème brûlée", `ECLAIR` "ÉCLAIR au chocolat",
-- `café` "Cafe". Customers often type without accents; case was already folded (the simple dictionary).
--
-- menu.search_simple is the `simple` configuration with the unaccent dictionary in front of it for the
-- token types that can hold letters outside ASCII (unaccent is a filtering dictionary: it hands the
-- unaccented word on to simple, which lower-cases it; an ASCII word passes through unchanged).
--
-- The stored vector `menu.items.search` is made again with it: searchMenu reads it, as it did, instead
-- of parsing every candidate item's text per search (5 to 7 times the cost, measured). PostgreSQL 15
-- cannot change a generated column's expression, so the column is dropped and added again, which
-- rewrites menu.items under an ACCESS EXCLUSIVE lock: menu reads and writes wait for it (about 28 µs
-- an item measured here: 200,000 items in 5.6 s). The lock is waited for at most 5 s (then the file
-- fails, changes nothing, and is run again), so the menu does not queue behind a long transaction.
-- The live views select the column (`i.*`), so they are made again around it, as menu 0001 made them.
-- The GIN index items_search goes with the column and is not made again: under row-level security `@@`
-- (ts_match_vq, not leakproof) is never an index condition, so it never served the search (decision 0093).
--
-- unaccent is a trusted extension (PostgreSQL 13+): the migrating role may create it with the CREATE
-- privilege on the database it already needs for the service schemas. It goes into the `menu` schema,
-- which the migrating role owns whatever the server's rules for `public` (PostgreSQL 15 lets only the
-- database owner create there) and whose only user is the menu. A database where it already exists
-- (a DBA installed it in `public`, a dedicated database prepared by hand) keeps it where it is: the
-- configuration takes the dictionary of the installed extension, by OID, so it survives
-- `alter extension unaccent set schema` too.
--
-- No grant is needed for the configuration: text search configurations and dictionaries have no
-- privileges of their own; brigade_menu resolves 'menu.search_simple' through its USAGE on `menu`.
set local lock_timeout = '5s';
do $$
declare
  v_schema name;
begin
  if not exists (select 1 from pg_extension where extname = 'unaccent') then
    create extension unaccent with schema menu;
  end if;
  select n.nspname into strict v_schema
    from pg_extension e join pg_namespace n on n.oid = e.extnamespace
   where e.extname = 'unaccent';
  create text search configuration menu.search_simple (copy = pg_catalog.simple);
  execute format(
    'alter text search configuration menu.search_simple
       alter mapping for word, hword, hword_part, numword, numhword, hword_numpart with %I.unaccent, pg_catalog.simple',
    v_schema);
end
$$;
comment on text search configuration menu.search_simple is
  'The menu search''s: simple (lower-cased, no stemming: menus mix languages) with accents folded by unaccent. Decision 0093.';

drop view menu.live_modifiers;
drop view menu.live_modifier_groups;
drop view menu.live_items;
alter table menu.items drop column search;
alter table menu.items add column search tsvector
  generated always as (to_tsvector('menu.search_simple'::regconfig, name || ' ' || description)) stored;

-- As menu 0001 made them.
create view menu.live_items with (security_invoker = true) as
  select i.* from menu.items i
    join menu.categories c on c.tenant_id = i.tenant_id and c.id = i.category_id
   where i.deleted_at is null and c.deleted_at is null;
create view menu.live_modifier_groups with (security_invoker = true) as
  select g.* from menu.modifier_groups g
    join menu.live_items i on i.tenant_id = g.tenant_id and i.id = g.item_id
   where g.deleted_at is null;
create view menu.live_modifiers with (security_invoker = true) as
  select m.* from menu.modifiers m
    join menu.live_modifier_groups g on g.tenant_id = m.tenant_id and g.id = m.group_id
   where m.deleted_at is null;
grant select on menu.live_items, menu.live_modifier_groups, menu.live_modifiers to brigade_menu;
