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

-- Only system actors reach the table, and no actor may delete a row. The ordering service's port
-- (actor `customer-keys`) reads keys and makes missing ones; erasure (eraseCustomer, actor
-- `customer-erasure`, after the caller's right was checked and their customer row deleted under its
-- own policies) may only write the tombstone. Customers and admins read no key, and nobody can undo an
-- erasure by deleting its tombstone.
create policy system_read on platform.customer_keys for select
  using ((select current_setting('brigade.actor_kind', true)) = 'system');
create policy system_create on platform.customer_keys for insert
  with check ((select current_setting('brigade.actor_kind', true)) = 'system' and key is not null);
create policy erasure_tombstone on platform.customer_keys for insert
  with check ((select current_setting('brigade.actor_kind', true)) = 'system'
              and (select current_setting('brigade.actor_id', true)) = 'customer-erasure' and key is null);
create policy erasure_destroys on platform.customer_keys for update
  using ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) = 'customer-erasure')
  with check (key is null);

revoke all on platform.customer_keys from public;
revoke delete on platform.customer_keys from brigade_platform;
