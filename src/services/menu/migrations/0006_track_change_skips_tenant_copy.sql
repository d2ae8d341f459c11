-- A tenant move (src/platform/tenancy/moveTenant.ts, docs/decisions/0008) copies a restaurant's menu
-- rows into its own database together with their history and menu version. The history trigger fired
-- on every copied row: it wrote history rows that the copy of menu.history then inserted again
-- (primary key violation, the move failed) and bumped the menu version once per row. The copy sets
-- brigade.tenant_copy = 'on' for its transaction, and the trigger does not fire then: the copied
-- history and version already say what it would write. Only for a transaction that has not switched
-- roles: every service transaction runs `set role brigade_<service>` (current_user then differs from
-- the session's user), so no request of a service can switch history off; the move runs as the
-- connection's own user. A WHEN clause rather than a new function body: menu.track_change stays as
-- 0001 wrote it. CREATE OR REPLACE TRIGGER blocks the tables' writers for a moment, not their readers.
set local lock_timeout = '10s';
do $$
declare t text;
begin
  foreach t in array array['categories', 'items', 'modifier_groups', 'modifiers'] loop
    execute format($f$create or replace trigger track_change after insert or update on menu.%I for each row
      when (current_setting('brigade.tenant_copy', true) is distinct from 'on' or current_user <> session_user)
      execute function menu.track_change()$f$, t);
  end loop;
end
$$;
