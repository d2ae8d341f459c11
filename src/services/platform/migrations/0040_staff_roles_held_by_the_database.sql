-- Only a manager of the restaurant (or an admin) adds a manager, and nobody changes a staff member's
-- role, at the database too (decision 0007, "Fixed later (fiftieth session, 7 Dec 2026)"; the tenancy
-- review's finding 3). `staff_own_tenant` (0002) was FOR ALL, and the service's role had UPDATE, so
-- any staff actor's transaction could run `update platform.staff set role = 'manager'` on its own row,
-- or insert a manager: only `addStaff` kept the rule, one UPDATE route or injected statement from
-- giving the right away.
--
-- Now a staff actor reads its restaurant's rows (staff_read) and inserts into them (staff_add): a row
-- of role `staff`, or of role `manager` only when the actor is a manager of that restaurant
-- (platform.actor_is_manager: the actor's id, when a UUID, is a `manager` row of the transaction's
-- tenant). No policy lets staff update or delete a row. And brigade_platform loses UPDATE on the
-- table, admins included: no route updates a staff row (the staff routes insert and read; a tenant
-- move copies and deletes them as the owner, which is neither held to these grants nor, with
-- BYPASSRLS, to these policies). A route that changes a role needs a migration of its own, a grant and
-- a policy for it. DELETE stays granted, for admins only (admin_all): no route deletes a staff row
-- either, but no staff actor can any more.
--
-- Why a function: a policy of platform.staff whose expression reads platform.staff fails every
-- statement with "infinite recursion detected in policy for relation staff" (PostgreSQL expands the
-- table's policies inside its own policy). A PL/pgSQL function's query is planned when it runs, on its
-- own, under the SELECT policies only (staff_read), so it reads the tenant's rows as the caller may.
-- It is SECURITY INVOKER (it gives nobody more than they have) and called once per statement, as a
-- sub-select, only for a row of role `manager`.
--
-- Every staff route's transaction reads this table; CREATE/DROP POLICY lock it exclusively: wait at
-- most 5 s for the transactions open now (then fail, to be run again), as 0017 and 0022 do.
set local lock_timeout = '5s';

create or replace function platform.actor_is_manager() returns boolean
  language plpgsql stable security invoker
  set search_path = pg_catalog, pg_temp
as $$
declare
  actor text := current_setting('brigade.actor_id', true);
begin
  if current_setting('brigade.actor_kind', true) is distinct from 'staff'
     or actor !~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    return false;
  end if;
  return exists (select 1 from platform.staff
                  where tenant_id = nullif(current_setting('brigade.tenant_id', true), '')::uuid
                    and id = actor::uuid and role = 'manager');
end
$$;
revoke all on function platform.actor_is_manager() from public;
grant execute on function platform.actor_is_manager() to brigade_platform;

drop policy staff_own_tenant on platform.staff;

create policy staff_read on platform.staff for select
  using ((select current_setting('brigade.actor_kind', true)) = 'staff'
         and tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid));

create policy staff_add on platform.staff for insert
  with check ((select current_setting('brigade.actor_kind', true)) = 'staff'
              and tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid)
              and (role = 'staff' or (select platform.actor_is_manager())));

revoke update on platform.staff from brigade_platform;
