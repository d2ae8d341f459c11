-- The menu: categories → items → modifier groups → modifiers, all tenant-scoped, soft-deleted,
-- optimistically versioned, with a database-maintained history (valid_during ranges) for AS OF reads.
--
-- Prices are integer minor units in the restaurant's currency. Every key carries tenant_id.
-- Policies (FORCE RLS): staff of the restaurant read and write its rows; admins everything; public
-- readers (actor kind 'public', read-only transactions) read any restaurant's menu, because a menu
-- is public; the gateway filters them to the restaurants they ask for.

create table menu.categories (
  tenant_id  uuid        not null,
  id         uuid        not null default gen_random_uuid(),
  name       text        not null check (length(name) between 1 and 200),
  position   integer     not null default 0,
  version    integer     not null default 1,
  deleted_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant_id, id)
);

create table menu.items (
  tenant_id   uuid        not null,
  id          uuid        not null default gen_random_uuid(),
  category_id uuid        not null,
  name        text        not null check (length(name) between 1 and 200),
  description text        not null default '' check (length(description) <= 2000),
  price       integer     not null check (price >= 0),
  sold_out    boolean     not null default false,
  version     integer     not null default 1,
  deleted_at  timestamptz,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  search      tsvector    generated always as (to_tsvector('simple', name || ' ' || description)) stored,
  primary key (tenant_id, id),
  foreign key (tenant_id, category_id) references menu.categories (tenant_id, id)
);
create index items_category on menu.items (tenant_id, category_id);
create index items_search on menu.items using gin (search) where deleted_at is null;

create table menu.modifier_groups (
  tenant_id   uuid        not null,
  id          uuid        not null default gen_random_uuid(),
  item_id     uuid        not null,
  name        text        not null check (length(name) between 1 and 200),
  min_choices integer     not null default 0 check (min_choices >= 0),
  max_choices integer     not null default 1,
  version     integer     not null default 1,
  deleted_at  timestamptz,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, item_id) references menu.items (tenant_id, id),
  check (max_choices >= min_choices and max_choices >= 1)
);
create index modifier_groups_item on menu.modifier_groups (tenant_id, item_id);

create table menu.modifiers (
  tenant_id   uuid        not null,
  id          uuid        not null default gen_random_uuid(),
  group_id    uuid        not null,
  name        text        not null check (length(name) between 1 and 200),
  price_delta integer     not null default 0,
  position    integer     not null default 0,
  version     integer     not null default 1,
  deleted_at  timestamptz,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now(),
  primary key (tenant_id, id),
  foreign key (tenant_id, group_id) references menu.modifier_groups (tenant_id, id)
);
create index modifiers_group on menu.modifiers (tenant_id, group_id);

-- One version counter per restaurant menu: bumped by every change, carried in the document's ETag.
create table menu.menu_versions (
  tenant_id  uuid        primary key,
  version    bigint      not null default 0,
  changed_at timestamptz not null default now()
);

-- History: one row per version of every menu row, valid over [valid_from, valid_to). Written by
-- the trigger below from any write path, so no caller can forget it.
create table menu.history (
  tenant_id   uuid        not null,
  entity      text        not null check (entity in ('category', 'item', 'modifier_group', 'modifier')),
  id          uuid        not null,
  version     integer     not null,
  data        jsonb       not null,
  valid_from  timestamptz not null,
  valid_to    timestamptz not null default 'infinity',
  primary key (tenant_id, entity, id, version)
);
create index history_as_of on menu.history (tenant_id, entity, valid_from, valid_to);

-- Keeps history and the menu version. A second change to one row inside one transaction rewrites
-- that transaction's history row instead of leaving an empty range behind.
create function menu.track_change() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_entity text := case tg_table_name when 'categories' then 'category' when 'items' then 'item'
                                      when 'modifier_groups' then 'modifier_group' else 'modifier' end;
  v_data jsonb := to_jsonb(new) - 'search';
begin
  update menu.history set valid_to = now()
   where tenant_id = new.tenant_id and entity = v_entity and id = new.id and valid_to = 'infinity' and valid_from < now();
  insert into menu.history (tenant_id, entity, id, version, data, valid_from)
  values (new.tenant_id, v_entity, new.id, new.version, v_data, now())
  on conflict (tenant_id, entity, id, version) do update set data = excluded.data;
  insert into menu.menu_versions (tenant_id, version, changed_at) values (new.tenant_id, 1, now())
  on conflict (tenant_id) do update set version = menu.menu_versions.version + 1, changed_at = now();
  return new;
end
$$;

create trigger track_change after insert or update on menu.categories for each row execute function menu.track_change();
create trigger track_change after insert or update on menu.items for each row execute function menu.track_change();
create trigger track_change after insert or update on menu.modifier_groups for each row execute function menu.track_change();
create trigger track_change after insert or update on menu.modifiers for each row execute function menu.track_change();

-- Live views: what customers see. Soft-deleted rows, and rows under a deleted parent, drop out.
create view menu.live_categories with (security_invoker = true) as
  select * from menu.categories where deleted_at is null;
create view menu.live_items with (security_invoker = true) as
  select i.* from menu.items i
    join menu.categories c on c.tenant_id = i.tenant_id and c.id = i.category_id
   where i.deleted_at is null and c.deleted_at is null;
create view menu.live_modifier_groups with (security_invoker = true) as
  select g.* from menu.modifier_groups g
    join menu.live_items i on i.tenant_id = g.tenant_id and i.id = g.item_id
   where g.deleted_at is null;
create view menu.live_modifiers with (security_invoker = true) as
  select m.* from menu.modifiers m
    join menu.live_modifier_groups g on g.tenant_id = m.tenant_id and g.id = m.group_id
   where m.deleted_at is null;

do $$
declare t text;
begin
  foreach t in array array['categories', 'items', 'modifier_groups', 'modifiers', 'menu_versions', 'history'] loop
    execute format('alter table menu.%I enable row level security, force row level security', t);
    execute format($p$create policy staff_own_tenant on menu.%I for all
      using ((select current_setting('brigade.actor_kind', true)) = 'staff'
             and tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid))
      with check ((select current_setting('brigade.actor_kind', true)) = 'staff'
             and tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid))$p$, t);
    execute format($p$create policy admin_all on menu.%I for all
      using ((select current_setting('brigade.actor_kind', true)) = 'admin')
      with check ((select current_setting('brigade.actor_kind', true)) = 'admin')$p$, t);
    execute format($p$create policy public_read on menu.%I for select
      using ((select current_setting('brigade.actor_kind', true)) in ('public', 'customer', 'courier', 'system'))$p$, t);
  end loop;
end
$$;
-- History is written by the trigger and never rewritten by hand.
revoke delete on menu.history from brigade_menu;
grant select on menu.live_categories, menu.live_items, menu.live_modifier_groups, menu.live_modifiers to brigade_menu;
