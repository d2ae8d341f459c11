-- The platform service's tables: the directory (cities, restaurants = tenants, couriers, customers),
-- each restaurant's staff, the tenant placement catalog and the admin audit log.
--
-- Row-Level Security everywhere, FORCEd so not even the owning role escapes it. Policies read the
-- request's settings once per statement through (select current_setting(...)), which PostgreSQL
-- evaluates as an InitPlan instead of once per row. Actor kinds: admin, staff, courier, customer.

create table platform.cities (
  id         uuid        primary key default gen_random_uuid(),
  name       text        not null check (length(name) between 1 and 100),
  created_at timestamptz not null default now(),
  unique (name)
);

-- A restaurant is a tenant: its id is the tenant_id of every row it owns, in every service.
create table platform.restaurants (
  id         uuid        primary key default gen_random_uuid(),
  city_id    uuid        not null references platform.cities (id),
  name       text        not null check (length(name) between 1 and 200),
  currency   char(3)     not null default 'EUR' check (currency ~ '^[A-Z]{3}$'),
  created_at timestamptz not null default now(),
  unique (city_id, name)
);
create index restaurants_city on platform.restaurants (city_id);

-- Staff belong to one restaurant. Keys carry tenant_id, so a reference to another tenant's staff
-- member fails exactly like a reference to one that does not exist.
create table platform.staff (
  tenant_id  uuid        not null references platform.restaurants (id),
  id         uuid        not null default gen_random_uuid(),
  name       text        not null check (length(name) between 1 and 200),
  email      text        not null check (email ~ '^[^@\s]+@[^@\s]+$'),
  role       text        not null default 'staff' check (role in ('manager', 'staff')),
  invited_by uuid,
  created_at timestamptz not null default now(),
  primary key (tenant_id, id),
  unique (tenant_id, email),
  foreign key (tenant_id, invited_by) references platform.staff (tenant_id, id)
);

-- Couriers belong to a city, not to a restaurant.
create table platform.couriers (
  id         uuid        primary key default gen_random_uuid(),
  city_id    uuid        not null references platform.cities (id),
  name       text        not null check (length(name) between 1 and 200),
  created_at timestamptz not null default now()
);

-- Personal data: erasing a customer is a real DELETE (docs/decisions), never a soft delete.
create table platform.customers (
  id         uuid        primary key default gen_random_uuid(),
  name       text        not null check (length(name) between 1 and 200),
  email      text        not null check (email ~ '^[^@\s]+@[^@\s]+$'),
  address    text        not null check (length(address) between 1 and 500),
  created_at timestamptz not null default now(),
  unique (email)
);

-- Where each tenant's rows live: absent or null = the shared database; else a dedicated one.
create table platform.tenant_placements (
  tenant_id    uuid        primary key references platform.restaurants (id),
  database_url text,
  version      bigint      not null default 1,
  moved_at     timestamptz not null default now()
);

create table platform.admin_audit (
  id         bigint      generated always as identity primary key,
  at         timestamptz not null default now(),
  actor_id   text        not null,
  method     text        not null,
  route      text        not null,
  target     jsonb       not null default '{}',
  status     integer     not null,
  request_id text        not null
);

alter table platform.cities            enable row level security, force row level security;
alter table platform.restaurants       enable row level security, force row level security;
alter table platform.staff             enable row level security, force row level security;
alter table platform.couriers          enable row level security, force row level security;
alter table platform.customers         enable row level security, force row level security;
alter table platform.tenant_placements enable row level security, force row level security;
alter table platform.admin_audit       enable row level security, force row level security;

-- The directory is public to read; only admins write it.
create policy public_read on platform.cities for select using (true);
create policy admin_write on platform.cities for all
  using ((select current_setting('brigade.actor_kind', true)) = 'admin')
  with check ((select current_setting('brigade.actor_kind', true)) = 'admin');
create policy public_read on platform.restaurants for select using (true);
create policy admin_write on platform.restaurants for all
  using ((select current_setting('brigade.actor_kind', true)) = 'admin')
  with check ((select current_setting('brigade.actor_kind', true)) = 'admin');

-- Staff: a restaurant's staff see and write their restaurant's rows; admins all rows.
create policy staff_own_tenant on platform.staff for all
  using ((select current_setting('brigade.actor_kind', true)) = 'staff'
         and tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid))
  with check ((select current_setting('brigade.actor_kind', true)) = 'staff'
         and tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid));
create policy admin_all on platform.staff for all
  using ((select current_setting('brigade.actor_kind', true)) = 'admin')
  with check ((select current_setting('brigade.actor_kind', true)) = 'admin');

-- Couriers see their own row; admins all rows.
create policy courier_self on platform.couriers for all
  using ((select current_setting('brigade.actor_kind', true)) = 'courier'
         and id = (select nullif(current_setting('brigade.actor_id', true), '')::uuid))
  with check ((select current_setting('brigade.actor_kind', true)) = 'courier'
         and id = (select nullif(current_setting('brigade.actor_id', true), '')::uuid));
create policy admin_all on platform.couriers for all
  using ((select current_setting('brigade.actor_kind', true)) = 'admin')
  with check ((select current_setting('brigade.actor_kind', true)) = 'admin');

-- Customers see and write their own row (sign-up runs as the new customer); admins all rows.
create policy customer_self on platform.customers for all
  using ((select current_setting('brigade.actor_kind', true)) = 'customer'
         and id = (select nullif(current_setting('brigade.actor_id', true), '')::uuid))
  with check ((select current_setting('brigade.actor_kind', true)) = 'customer'
         and id = (select nullif(current_setting('brigade.actor_id', true), '')::uuid));
create policy admin_all on platform.customers for all
  using ((select current_setting('brigade.actor_kind', true)) = 'admin')
  with check ((select current_setting('brigade.actor_kind', true)) = 'admin');

-- Placements: a transaction may read its own tenant's placement (tenant_fence does, as its owner,
-- which FORCE subjects to this policy too); admins read and write all. The audit log: admins only.
create policy tenant_self_read on platform.tenant_placements for select
  using (tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid));
create policy admin_all on platform.tenant_placements for all
  using ((select current_setting('brigade.actor_kind', true)) = 'admin')
  with check ((select current_setting('brigade.actor_kind', true)) = 'admin');
create policy admin_all on platform.admin_audit for all
  using ((select current_setting('brigade.actor_kind', true)) = 'admin')
  with check ((select current_setting('brigade.actor_kind', true)) = 'admin');
revoke update, delete on platform.admin_audit from brigade_platform;

-- Called at the start of every tenant transaction, by every service role. It takes the tenant's
-- fence in shared mode (a tenant move takes it exclusively, so writes wait while rows are copied)
-- and answers where the tenant lives according to this database ('' = here). SECURITY DEFINER so
-- service roles need no grant on the catalog; search_path pinned; it answers only for the tenant
-- the transaction runs as.
create function platform.tenant_fence(p_tenant uuid) returns text
  language plpgsql
  security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_url text;
begin
  if p_tenant is distinct from nullif(current_setting('brigade.tenant_id', true), '')::uuid then
    raise exception 'tenant_fence: % is not the tenant of this transaction', p_tenant using errcode = '42501';
  end if;
  perform pg_advisory_xact_lock_shared(hashtext('brigade.tenant_fence'), hashtext(p_tenant::text));
  select database_url into v_url from platform.tenant_placements where tenant_id = p_tenant;
  return coalesce(v_url, '');
end
$$;
revoke all on function platform.tenant_fence(uuid) from public;
-- Calling a function needs USAGE on its schema; the service roles get no grant on any table here.
grant usage on schema platform to brigade_menu, brigade_ordering, brigade_delivery, brigade_payments;
grant execute on function platform.tenant_fence(uuid) to brigade_platform, brigade_menu, brigade_ordering, brigade_delivery, brigade_payments;
