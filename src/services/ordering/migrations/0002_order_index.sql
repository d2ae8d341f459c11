-- Where each order lives: order id → restaurant (tenant), customer and assigned courier.
--
-- Why: an order's events are tenant-scoped (RLS on ordering.events reads brigade.tenant_id), but a
-- customer, a courier or an admin asks for /v1/orders/:id without knowing the restaurant. The route
-- looks the order up here first, as the caller, and Row-Level Security shows each actor only the rows
-- it may see (customer: own orders; staff: own restaurant; courier: orders assigned to them; admin and
-- system: all). A miss is a 404 whatever the reason, so nobody learns that someone else's order exists.
-- The row is written in the same transaction as the order's first event (and courier_id with
-- CourierAssigned), so it can never point at an order that does not exist.
--
-- Keys carry tenant_id (Citus-compatible, moved with the tenant). The lookup by order id alone uses the
-- plain index order_index_order; order ids are server-made UUIDs, unique by construction.
create table ordering.order_index (
  tenant_id   uuid        not null,
  order_id    uuid        not null,
  customer_id uuid        not null,
  courier_id  uuid,
  placed_at   timestamptz not null default now(),
  primary key (tenant_id, order_id)
);
create index order_index_order on ordering.order_index (order_id);
create index order_index_customer on ordering.order_index (customer_id);
create index order_index_courier on ordering.order_index (courier_id) where courier_id is not null;

alter table ordering.order_index enable row level security, force row level security;

-- The actor's id as a uuid only when the actor is of that kind: an admin named "ops" must not make a
-- customer policy fail on a cast. Read once per statement (sub-select = InitPlan).
create policy customer_own_read on ordering.order_index for select
  using (customer_id = (select case when current_setting('brigade.actor_kind', true) = 'customer'
                                    then nullif(current_setting('brigade.actor_id', true), '')::uuid end));
create policy customer_places on ordering.order_index for insert
  with check (customer_id = (select case when current_setting('brigade.actor_kind', true) = 'customer'
                                         then nullif(current_setting('brigade.actor_id', true), '')::uuid end)
              and tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid));
create policy courier_assigned_read on ordering.order_index for select
  using (courier_id = (select case when current_setting('brigade.actor_kind', true) = 'courier'
                                   then nullif(current_setting('brigade.actor_id', true), '')::uuid end));
create policy staff_own_tenant on ordering.order_index for all
  using ((select current_setting('brigade.actor_kind', true)) = 'staff'
         and tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid))
  with check ((select current_setting('brigade.actor_kind', true)) = 'staff'
         and tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid));
create policy admin_system_all on ordering.order_index for all
  using ((select current_setting('brigade.actor_kind', true)) in ('admin', 'system'))
  with check ((select current_setting('brigade.actor_kind', true)) in ('admin', 'system'));

-- Derived from events that are never deleted: the service may insert and update (courier_id), never delete.
revoke delete, truncate on ordering.order_index from brigade_ordering;
