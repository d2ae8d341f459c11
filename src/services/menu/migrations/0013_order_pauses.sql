-- A restaurant's pause of new orders (decision 0094): at most one row per restaurant, kept by the
-- menu service beside its menu, because placement already asks the menu (the pricing port) and the
-- public menu document, cached and versioned, is where a customer app learns whether it may order.
-- No row: the restaurant takes orders. A row whose `until` has passed: it takes orders again, without
-- anyone resuming (readers compare `until` with now(); the row stays until the next pause or resume).
create table menu.order_pauses (
  tenant_id  uuid        primary key,
  reason     text        check (reason is null or length(reason) between 1 and 200),
  until      timestamptz,
  paused_at  timestamptz not null default now(),
  paused_by  text        not null
);

alter table menu.order_pauses enable row level security, force row level security;
create policy staff_own_tenant on menu.order_pauses for all
  using ((select current_setting('brigade.actor_kind', true)) = 'staff'
         and tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid))
  with check ((select current_setting('brigade.actor_kind', true)) = 'staff'
         and tenant_id = (select nullif(current_setting('brigade.tenant_id', true), '')::uuid));
create policy admin_all on menu.order_pauses for all
  using ((select current_setting('brigade.actor_kind', true)) = 'admin')
  with check ((select current_setting('brigade.actor_kind', true)) = 'admin');
-- Public, like the menu: the public menu read shows it, and placement (actor 'system') is refused by it.
create policy public_read on menu.order_pauses for select
  using ((select current_setting('brigade.actor_kind', true)) in ('public', 'customer', 'courier', 'system'));

revoke all on table menu.order_pauses from public;
revoke all on table menu.order_pauses from brigade_menu;
grant select, insert, update, delete on table menu.order_pauses to brigade_menu;
