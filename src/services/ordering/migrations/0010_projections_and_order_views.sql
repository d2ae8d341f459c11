-- Projections of the ordering event log (src/platform/projections, src/services/ordering/views):
-- the checkpoint table every projection advances in the same transaction as its writes, and the three
-- read models: the restaurant live-board, the customer order-history and the courier task-list.
-- Decision records: docs/decisions/0030 (checkpoints, leader lock, idempotent apply), 0031 (blue/green
-- rebuild), 0032 (read-your-writes and the live-board stream).
--
-- Every view row is one order and records the global position of the last event that shaped it as
-- (last_transaction_id, last_position): an event applies to a row only when it is newer, so replays and
-- redeliveries never apply twice. Only the projector (actor kind 'system') writes; readers are filtered
-- per actor by the policies below. Actor ids are compared as uuid only when they look like one, so a
-- non-uuid subject reads nothing instead of failing the cast.

-- One row per projection: where it has read the global order up to. Not tenant data (a projection
-- spans all tenants): anyone of the service may read it (the read-your-writes wait does), only the
-- projector and operators write it.
create table ordering.projection_checkpoints (
  name           text        primary key check (length(name) between 1 and 100),
  transaction_id xid8        not null default '0'::xid8,
  position       bigint      not null default 0,
  events_applied bigint      not null default 0,
  updated_at     timestamptz not null default now()
);
alter table ordering.projection_checkpoints enable row level security;
alter table ordering.projection_checkpoints force row level security;
create policy projection_checkpoints_read on ordering.projection_checkpoints
  for select to brigade_ordering using (true);
create policy projection_checkpoints_write on ordering.projection_checkpoints
  for all to brigade_ordering
  using ((select current_setting('brigade.actor_kind', true)) in ('system', 'admin'))
  with check ((select current_setting('brigade.actor_kind', true)) in ('system', 'admin'));

-- The restaurant live-board: every order of a restaurant with its lines and preparation state.
create table ordering.board_view (
  tenant_id           uuid        not null,
  order_id            uuid        not null,
  status              text        not null,
  lines               jsonb       not null default '[]',
  total               bigint      not null default 0,
  currency            text        not null default '',
  placed_at           timestamptz,
  accepted_at         timestamptz,
  ready_at            timestamptz,
  eta_minutes         integer,
  courier_id          uuid,
  updated_at          timestamptz not null,
  version             integer     not null,
  last_transaction_id xid8        not null,
  last_position       bigint      not null,
  primary key (tenant_id, order_id)
);
-- The live-board stream reads "rows of this restaurant changed after position p".
create index board_view_changes on ordering.board_view (tenant_id, last_transaction_id, last_position);
alter table ordering.board_view enable row level security;
alter table ordering.board_view force row level security;
create policy board_view_projector on ordering.board_view
  for all to brigade_ordering
  using ((select current_setting('brigade.actor_kind', true)) = 'system')
  with check ((select current_setting('brigade.actor_kind', true)) = 'system');
create policy board_view_read on ordering.board_view
  for select to brigade_ordering
  using (
    (select current_setting('brigade.actor_kind', true)) = 'admin'
    or ((select current_setting('brigade.actor_kind', true)) = 'staff'
        and tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid))
  );

-- The customer order-history: a customer's orders across restaurants.
create table ordering.customer_orders_view (
  tenant_id           uuid        not null,
  order_id            uuid        not null,
  customer_id         uuid        not null,
  restaurant_id       uuid        not null,
  status              text        not null,
  total               bigint      not null,
  currency            text        not null,
  placed_at           timestamptz,
  updated_at          timestamptz not null,
  version             integer     not null,
  last_transaction_id xid8        not null,
  last_position       bigint      not null,
  primary key (tenant_id, order_id)
);
create index customer_orders_view_customer on ordering.customer_orders_view (customer_id, placed_at desc);
alter table ordering.customer_orders_view enable row level security;
alter table ordering.customer_orders_view force row level security;
create policy customer_orders_view_projector on ordering.customer_orders_view
  for all to brigade_ordering
  using ((select current_setting('brigade.actor_kind', true)) = 'system')
  with check ((select current_setting('brigade.actor_kind', true)) = 'system');
create policy customer_orders_view_read on ordering.customer_orders_view
  for select to brigade_ordering
  using (
    (select current_setting('brigade.actor_kind', true)) = 'admin'
    or customer_id = (select case when current_setting('brigade.actor_kind', true) = 'customer'
                                   and current_setting('brigade.actor_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                  then current_setting('brigade.actor_id', true)::uuid end)
  );

-- The courier task-list: one row per order from placement (courier_id null until one is assigned, so
-- the pickup and delivery address are known when the assignment comes); a courier reads the rows
-- assigned to it. Delivered and cancelled rows stay with their status; the route lists the open ones.
create table ordering.courier_tasks_view (
  tenant_id           uuid        not null,
  order_id            uuid        not null,
  courier_id          uuid,
  status              text        not null,
  restaurant_id       uuid        not null,
  delivery_address    text,
  assigned_at         timestamptz,
  updated_at          timestamptz not null,
  version             integer     not null,
  last_transaction_id xid8        not null,
  last_position       bigint      not null,
  primary key (tenant_id, order_id)
);
create index courier_tasks_view_courier on ordering.courier_tasks_view (courier_id, assigned_at desc) where courier_id is not null;
alter table ordering.courier_tasks_view enable row level security;
alter table ordering.courier_tasks_view force row level security;
create policy courier_tasks_view_projector on ordering.courier_tasks_view
  for all to brigade_ordering
  using ((select current_setting('brigade.actor_kind', true)) = 'system')
  with check ((select current_setting('brigade.actor_kind', true)) = 'system');
create policy courier_tasks_view_read on ordering.courier_tasks_view
  for select to brigade_ordering
  using (
    (select current_setting('brigade.actor_kind', true)) = 'admin'
    or courier_id = (select case when current_setting('brigade.actor_kind', true) = 'courier'
                                  and current_setting('brigade.actor_id', true) ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
                                 then current_setting('brigade.actor_id', true)::uuid end)
  );

-- The schema's default privileges gave the service role SELECT, INSERT, UPDATE, DELETE; the views
-- need exactly that (rebuilds swap tables, which the owner does). Truncate stays with the owner.
