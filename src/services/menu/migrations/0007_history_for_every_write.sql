-- Menu history for every write path (docs/decisions/0021), as 0001 meant it. Two holes, found by a
-- review (the API's own writes were not affected: each bumps the version by one, once per row and
-- transaction):
-- - an UPDATE that left the version alone (a fix from a SQL console, a data migration) closed the
--   row's open history range, then met the same version's history row and only rewrote its data: the
--   row had no current version, and a menu read AS OF a later instant lost it;
-- - two version bumps of one row in one transaction left two open ranges from the same instant: AS OF
--   listed the row twice.
-- Now every UPDATE of a menu row bumps its version by exactly one (a BEFORE trigger; the API's
-- `version = version + 1` gives the same number), and a second change of a row in one transaction
-- rewrites that transaction's history row (its version and data) instead of adding another.
--
-- The triggers keep 0006's WHEN clause (a tenant move's copy writes no history: it copies it).
-- CREATE OR REPLACE FUNCTION and CREATE TRIGGER take the tables' writers' lock for a moment, not their
-- readers'; lock_timeout so that behind a long write this fails, to run again, instead of queueing
-- every menu write behind it.
set local lock_timeout = '10s';

create or replace function menu.bump_version() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
begin
  new.version := old.version + 1;
  return new;
end
$$;

create or replace function menu.track_change() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_entity text := case tg_table_name when 'categories' then 'category' when 'items' then 'item'
                                      when 'modifier_groups' then 'modifier_group' else 'modifier' end;
  v_data jsonb := to_jsonb(new) - 'search';
begin
  -- This transaction changed the row before (now() is the transaction's start): one range for it.
  update menu.history set version = new.version, data = v_data
   where tenant_id = new.tenant_id and entity = v_entity and id = new.id and valid_to = 'infinity' and valid_from = now();
  if not found then
    update menu.history set valid_to = now()
     where tenant_id = new.tenant_id and entity = v_entity and id = new.id and valid_to = 'infinity' and valid_from < now();
    insert into menu.history (tenant_id, entity, id, version, data, valid_from)
    values (new.tenant_id, v_entity, new.id, new.version, v_data, now())
    on conflict (tenant_id, entity, id, version) do update set data = excluded.data;
  end if;
  insert into menu.menu_versions (tenant_id, version, changed_at) values (new.tenant_id, 1, now())
  on conflict (tenant_id) do update set version = menu.menu_versions.version + 1, changed_at = now();
  return new;
end
$$;

do $$
declare t text;
begin
  foreach t in array array['categories', 'items', 'modifier_groups', 'modifiers'] loop
    execute format($f$create or replace trigger bump_version before update on menu.%I for each row
      when (current_setting('brigade.tenant_copy', true) is distinct from 'on' or current_user <> session_user)
      execute function menu.bump_version()$f$, t);
  end loop;
end
$$;
