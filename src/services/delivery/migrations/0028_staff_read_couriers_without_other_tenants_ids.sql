-- Staff read couriers without another restaurant's ids (docs/decisions/0089, "Fixed later (fiftieth
-- session, 7 Dec 2026)"; found by the tenancy review, finding 1).
--
-- staff_read (0019) let every staff actor read every courier_availability row, every column: the
-- restaurant and the order each courier carries (current_tenant_id, current_order_id), is held for
-- (held_tenant_id, held_order_id) or missed (missed_order_id), another restaurant's ids. Only the
-- picker's query kept them out; a second staff read, or a select *, would have leaked them. RLS filters
-- rows, not columns, and every actor shares brigade_delivery, so neither a policy nor a column grant
-- can give staff the rows without those columns. Staff now read through the function below, and the
-- table has no staff policy: a staff transaction's select of it sees no row.
--
-- delivery.couriers_of_city(city): the couriers of one city (the picker reads one city; any city, as
-- staff_read allowed), every column the picker needs, and the tenant and order ids only when they are
-- the transaction's tenant's (null otherwise; missed_order_id, which names no restaurant, not at all).
-- SECURITY DEFINER, so it reads the table as its owner. It refuses (42501) a transaction without a
-- tenant and any actor but staff and admins: the route runs it with the restaurant as the tenant.
-- Admins read the table itself as before (admin_read). PL/pgSQL for its guard; it returns a city's
-- rows (tens to hundreds), which the caller sorts and limits.
--
-- FORCE ROW LEVEL SECURITY holds the owner to the table's policies when it is neither superuser nor
-- BYPASSRLS (a managed PostgreSQL's usual owner, as platform 0022 found for the fences): owner_read
-- lets the table's owner read the rows, which the function (owned by the same role) runs as. The
-- owner is read from the catalog when a statement runs (one InitPlan), not named when the policy is
-- made: after REASSIGN OWNED to another role (a new migration owner) the picker would otherwise have
-- read no courier, with no error (found by the review of the day's changes). The owner could turn
-- RLS off anyway; no brigade_ role is it or a member of it (findTenancyViolations).
--
-- DROP/CREATE POLICY take the table's ACCESS EXCLUSIVE lock for a moment; behind a long dispatch
-- transaction this fails after 5 s, to run again later, instead of queueing the dispatch behind it.
set local lock_timeout = '5s';

create or replace function delivery.couriers_of_city(p_city text)
  returns table (courier_id uuid, city text, status text, available_since timestamptz, updated_at timestamptz,
                 held_until timestamptz, released_status text, asked_to_stop boolean,
                 current_tenant_id uuid, current_order_id uuid, held_tenant_id uuid, held_order_id uuid)
  language plpgsql
  stable
  security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_tenant uuid;
begin
  if nullif(current_setting('brigade.tenant_id', true), '') is null
     or coalesce(current_setting('brigade.actor_kind', true), '') not in ('staff', 'admin') then
    raise exception 'couriers_of_city: only staff, or an admin, acting in a restaurant (brigade.tenant_id set) may read the couriers of a city'
      using errcode = '42501';
  end if;
  v_tenant := current_setting('brigade.tenant_id', true)::uuid;
  return query
    select a.courier_id, a.city, a.status, a.available_since, a.updated_at,
           a.held_until, a.released_status, a.asked_to_stop,
           case when a.current_tenant_id = v_tenant then a.current_tenant_id end,
           case when a.current_tenant_id = v_tenant then a.current_order_id end,
           case when a.held_tenant_id = v_tenant then a.held_tenant_id end,
           case when a.held_tenant_id = v_tenant then a.held_order_id end
      from delivery.courier_availability a
     where a.city = p_city;
end
$$;

revoke all on function delivery.couriers_of_city(text) from public;
grant execute on function delivery.couriers_of_city(text) to brigade_delivery;

drop policy if exists owner_read on delivery.courier_availability;
create policy owner_read on delivery.courier_availability for select
  using ((select pg_catalog.pg_has_role(current_user, c.relowner, 'USAGE')
            from pg_catalog.pg_class c where c.oid = 'delivery.courier_availability'::pg_catalog.regclass));

drop policy if exists staff_read on delivery.courier_availability;
