-- Menu search folds accents (decision 0093): `creme` finds "Crème brûlée", `ECLAIR` "ÉCLAIR au chocolat",
-- `café` "Cafe". Customers often type without accents; case was already folded (the simple dictionary).
--
-- menu.search_simple is the `simple` configuration with the unaccent dictionary in front of it for the
-- token types that can hold letters outside ASCII (unaccent is a filtering dictionary: it hands the
-- unaccented word on to simple, which lower-cases it; an ASCII word passes through unchanged).
-- searchMenu computes to_tsvector('menu.search_simple', name || ' ' || description) per item of the
-- restaurants searched. No index and no new column: the search runs under row-level security, where
-- `@@` (ts_match_vq, not leakproof) can never be an index condition, so a full-text index (the old
-- items_search included) cannot serve it; the restaurants' key (tenant_id) is its access path, and a
-- stored column would have to be added by rewriting menu.items under an ACCESS EXCLUSIVE lock. This
-- file only creates objects: it takes no lock on menu.items. The generated column `search` and its index
-- stay for the releases still serving during a rolling deploy (decision 0093).
--
-- unaccent is a trusted extension (PostgreSQL 13+): the migrating role may create it with the CREATE
-- privilege on the database it already needs for the service schemas. It goes into the `menu` schema,
-- which the migrating role owns whatever the server's rules for `public` (PostgreSQL 15 lets only the
-- database owner create there) and whose only user is the menu. A database where it already exists
-- (a DBA installed it in `public`, a dedicated database prepared by hand) keeps it where it is: the
-- configuration takes the dictionary of the installed extension, by OID, so it survives
-- `alter extension unaccent set schema` too.
--
-- No grant is needed: text search configurations and dictionaries have no privileges of their own;
-- brigade_menu (every reader of the search, the public one included, runs as it) resolves the name
-- 'menu.search_simple' through its USAGE on the schema `menu` (platform 0001).
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
