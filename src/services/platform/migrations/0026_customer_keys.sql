-- Each customer's data key, for crypto-shredding (decision 0090): the ordering service seals the
-- customer's personal fields (an order's delivery address) under it before they reach the event log,
-- the outbox, the broker or a view; erasing the customer destroys it, and every copy reads as null.
--
-- Not tied to platform.customers by a foreign key: a customer token may name an id that never signed
-- up (brigade token), and the order of that id is sealed all the same. An erased customer's row stays
-- as a tombstone without its key (erased_at set), so nothing new is ever sealed for them: a key made
-- after the erasure would outlive it. Keys are kept in the clear, readable by this service's role
-- alone through the policies below; a database backup holds them as long as the backup lives.
create table platform.customer_keys (
  customer_id uuid        primary key,
  key         bytea       check (length(key) = 32),
  created_at  timestamptz not null default now(),
  erased_at   timestamptz,
  check ((key is null) = (erased_at is not null))
);

alter table platform.customer_keys enable row level security, force row level security;

-- The ordering service's port reads keys and makes missing ones, as a system actor; it never erases.
create policy system_read on platform.customer_keys for select
  using ((select current_setting('brigade.actor_kind', true)) = 'system');
create policy system_create on platform.customer_keys for insert
  with check ((select current_setting('brigade.actor_kind', true)) = 'system' and key is not null);
-- Erasure: the customer of their own row, an admin of any; the only write either may make is the
-- tombstone (no key).
create policy customer_erase on platform.customer_keys for all
  using ((select current_setting('brigade.actor_kind', true)) = 'customer'
         and customer_id = (select case when current_setting('brigade.actor_kind', true) = 'customer'
                                        then nullif(current_setting('brigade.actor_id', true), '')::uuid end))
  with check ((select current_setting('brigade.actor_kind', true)) = 'customer' and key is null
         and customer_id = (select case when current_setting('brigade.actor_kind', true) = 'customer'
                                        then nullif(current_setting('brigade.actor_id', true), '')::uuid end));
create policy admin_erase on platform.customer_keys for all
  using ((select current_setting('brigade.actor_kind', true)) = 'admin')
  with check ((select current_setting('brigade.actor_kind', true)) = 'admin' and key is null);

revoke all on platform.customer_keys from public;
