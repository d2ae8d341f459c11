-- A tenant move (src/platform/tenancy/moveTenant.ts, docs/decisions/0008) copies a restaurant's menu
-- rows into its own database together with their history and menu version. The history trigger fired
-- on every copied row: it wrote history rows that the copy of menu.history then inserted again
-- (primary key violation, the move failed) and bumped the menu version once per row. The copy sets
-- brigade.tenant_copy = 'on' for its transaction, and the trigger does not fire then: the copied
-- history and version already say what it would write. Only outside the service roles, so no request
-- of a service can switch history off (the move runs as the database owner). A WHEN clause rather
-- than a new function body: menu.track_change stays as 0001 wrote it.
do $$
declare t text;
begin
  foreach t in array array['categories', 'items', 'modifier_groups', 'modifiers'] loop
    execute format('drop trigger track_change on menu.%I', t);
    execute format($f$create trigger track_change after insert or update on menu.%I for each row
      when (current_setting('brigade.tenant_copy', true) is distinct from 'on' or current_user::text like 'brigade\_%%')
      execute function menu.track_change()$f$, t);
  end loop;
end
$$;
