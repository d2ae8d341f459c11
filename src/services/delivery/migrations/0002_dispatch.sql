-- Courier dispatch: courier availability (platform-wide, not tenant data), the dispatch queue, the
-- assignment history and the alerts raised when an order could not get a courier.
-- Decision records: docs/decisions/0040-dispatch-by-competing-consumers.md, 0041, 0042.

-- One row per courier who ever said they were available. A courier belongs to a city, not to a
-- restaurant, so this table has no tenant_id. current_order_id is a single column: a courier can
-- hold at most one active order by construction (the dispatch worker also locks the row).
create table delivery.courier_availability (
  courier_id        uuid        primary key,
  city              text        not null check (length(city) between 1 and 100),
  status            text        not null check (status in ('available', 'busy', 'offline')),
  available_since   timestamptz not null default now(),
  current_tenant_id uuid,
  current_order_id  uuid,
  updated_at        timestamptz not null default now(),
  check ((status = 'busy') = (current_order_id is not null)),
  check ((current_order_id is null) = (current_tenant_id is null))
);

-- The dispatch pick: the available courier of a city who has waited longest.
create index courier_availability_pick on delivery.courier_availability (city, available_since) where status = 'available';

-- One row per order to dispatch. courier_id is a single column: an order holds at most one courier.
-- next_attempt_at carries both the no-courier backoff (state queued) and the retry of telling
-- ordering about an assignment (state assigned, notified_at null).
create table delivery.dispatch_queue (
  tenant_id       uuid        not null,
  order_id        uuid        not null,
  city            text        not null check (length(city) between 1 and 100),
  ready_at        timestamptz not null default now(),
  state           text        not null default 'queued' check (state in ('queued', 'assigned', 'delivered', 'cancelled', 'dropped', 'dead')),
  attempts        integer     not null default 0 check (attempts >= 0),
  next_attempt_at timestamptz not null default now(),
  courier_id      uuid,
  assigned_at     timestamptz,
  notified_at     timestamptz,
  finished_at     timestamptz,
  last_error      text,
  primary key (tenant_id, order_id),
  check ((state = 'assigned') <= (courier_id is not null))
);

-- The claim scans due queued rows oldest first; the notify sweep scans assigned, unnotified rows.
create index dispatch_queue_due on delivery.dispatch_queue (next_attempt_at, ready_at) where state = 'queued';
create index dispatch_queue_unnotified on delivery.dispatch_queue (next_attempt_at) where state = 'assigned' and notified_at is null;
create index dispatch_queue_city_waiting on delivery.dispatch_queue (city, ready_at) where state = 'queued';

-- Every assignment ever made (an order gets one, but the history keeps re-dispatches after a drop).
create table delivery.assignments (
  tenant_id      uuid        not null,
  order_id       uuid        not null,
  courier_id     uuid        not null,
  assigned_at    timestamptz not null default now(),
  released_at    timestamptz,
  release_reason text check (release_reason in ('delivered', 'cancelled', 'dropped')),
  primary key (tenant_id, order_id, courier_id)
);

-- Raised when an order is dead-lettered (no courier after the last attempt); the live-board shows
-- them through the delivery.dispatch.DispatchFailed event.
create table delivery.dispatch_alerts (
  tenant_id       uuid        not null,
  id              uuid        not null default gen_random_uuid(),
  order_id        uuid        not null,
  city            text        not null,
  attempts        integer     not null,
  reason          text        not null,
  raised_at       timestamptz not null default now(),
  acknowledged_at timestamptz,
  primary key (tenant_id, id)
);

alter table delivery.courier_availability enable row level security, force row level security;
alter table delivery.dispatch_queue       enable row level security, force row level security;
alter table delivery.assignments          enable row level security, force row level security;
alter table delivery.dispatch_alerts      enable row level security, force row level security;

-- A courier sees and writes only their own row, and may not make themselves busy (only dispatch
-- does); the dispatch worker and the order-event consumer (actor kind system) see all rows; admins read.
-- The actor id is compared as text, not cast to uuid: a system actor's id is a name, and PostgreSQL may
-- evaluate this policy's sub-select for it too (it did, under 8 competing workers: 22P02).
create policy courier_self on delivery.courier_availability for all
  using ((select current_setting('brigade.actor_kind', true)) = 'courier'
         and courier_id::text = (select current_setting('brigade.actor_id', true)))
  with check ((select current_setting('brigade.actor_kind', true)) = 'courier'
         and courier_id::text = (select current_setting('brigade.actor_id', true))
         and status <> 'busy' and current_order_id is null);
create policy system_all on delivery.courier_availability for all
  using ((select current_setting('brigade.actor_kind', true)) = 'system')
  with check ((select current_setting('brigade.actor_kind', true)) = 'system');
create policy admin_read on delivery.courier_availability for select
  using ((select current_setting('brigade.actor_kind', true)) = 'admin');

-- Tenant tables: the restaurant (its staff, admins acting in it) reads its own rows; the dispatch
-- worker and the consumer (system) work across tenants: dispatch is per city, not per restaurant.
create policy tenant_read on delivery.dispatch_queue for select
  using (tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid));
create policy system_all on delivery.dispatch_queue for all
  using ((select current_setting('brigade.actor_kind', true)) = 'system')
  with check ((select current_setting('brigade.actor_kind', true)) = 'system');
create policy tenant_read on delivery.assignments for select
  using (tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid));
create policy system_all on delivery.assignments for all
  using ((select current_setting('brigade.actor_kind', true)) = 'system')
  with check ((select current_setting('brigade.actor_kind', true)) = 'system');
create policy tenant_read on delivery.dispatch_alerts for select
  using (tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid));
create policy system_all on delivery.dispatch_alerts for all
  using ((select current_setting('brigade.actor_kind', true)) = 'system')
  with check ((select current_setting('brigade.actor_kind', true)) = 'system');

-- The schema's default privileges granted the role DML on every new table: narrow them.
revoke all on delivery.courier_availability, delivery.dispatch_queue, delivery.assignments, delivery.dispatch_alerts from public;
revoke delete on delivery.courier_availability, delivery.dispatch_queue, delivery.assignments, delivery.dispatch_alerts from brigade_delivery;
