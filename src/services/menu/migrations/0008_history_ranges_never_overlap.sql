-- Menu history ranges never overlap, and a row has exactly one open version (docs/decisions/0021).
-- Found by a review of 0007: the trigger dated a change by its transaction's start (now()). A
-- transaction that began before another committed a change of the same row, and wrote the row after
-- that commit (a console session, a data migration: the API's If-Match refuses such a write), found
-- the open range starting after its now(), closed nothing, and opened a second range from its now():
-- two open versions, the newer starting before the older, and AS OF listed the row twice.
--
-- Now a new version starts at greatest(now(), the open version's start + 1 microsecond): when no later
-- transaction got in first, at now() as before; else just after the version it replaces, which it
-- closes at that same instant. Ranges meet, never overlap, and one stays open.
--
-- A second change of a row in one transaction still rewrites that transaction's history row instead of
-- adding a range. It is now told by the row's xmin (this transaction wrote it) rather than by
-- valid_from = now(), which a start moved past now() no longer matches; `valid_from >= now()` keeps a
-- frozen row whose xmin a wrapped-around transaction id happens to equal out of it. A change made in a
-- subtransaction (after a SAVEPOINT) has an xmin of its own: it closes the range and opens the next
-- one a microsecond later, which is a short range, not a wrong one.
--
-- CREATE OR REPLACE FUNCTION: the triggers of 0006/0007 keep calling it, WHEN clauses unchanged.
set local lock_timeout = '10s';

create or replace function menu.track_change() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_entity text := case tg_table_name when 'categories' then 'category' when 'items' then 'item'
                                      when 'modifier_groups' then 'modifier_group' else 'modifier' end;
  v_data jsonb := to_jsonb(new) - 'search';
  v_from timestamptz;
begin
  -- This transaction wrote the row's open range before: one range for it.
  update menu.history set version = new.version, data = v_data
   where tenant_id = new.tenant_id and entity = v_entity and id = new.id and valid_to = 'infinity'
     and xmin = pg_current_xact_id()::xid and valid_from >= now();
  if not found then
    -- greatest() skips the null of a row without history (its first version starts at now()). The
    -- row's own lock (this runs after its INSERT or UPDATE) keeps any other writer of it waiting.
    select greatest(now(), max(valid_from) + interval '1 microsecond') into v_from
      from menu.history where tenant_id = new.tenant_id and entity = v_entity and id = new.id and valid_to = 'infinity';
    update menu.history set valid_to = v_from
     where tenant_id = new.tenant_id and entity = v_entity and id = new.id and valid_to = 'infinity';
    insert into menu.history (tenant_id, entity, id, version, data, valid_from)
    values (new.tenant_id, v_entity, new.id, new.version, v_data, v_from)
    on conflict (tenant_id, entity, id, version) do update set data = excluded.data;
  end if;
  insert into menu.menu_versions (tenant_id, version, changed_at) values (new.tenant_id, 1, now())
  on conflict (tenant_id) do update set version = menu.menu_versions.version + 1, changed_at = now();
  return new;
end
$$;
