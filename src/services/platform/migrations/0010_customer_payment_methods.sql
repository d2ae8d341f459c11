-- The customer's card on file: what the payments saga charges for their orders. Decision record:
-- docs/decisions/0052-payments-wiring-and-card-on-file.md.
--
-- One card per customer, personal data like the customer row: deleting the customer deletes it (a
-- real DELETE, never soft). The number itself never leaves this table except to the payments saga at
-- charge time (read through its port, never copied into events, sagas or logs); everything else sees
-- card_last4 only.
create table platform.customer_payment_methods (
  customer_id uuid        primary key references platform.customers (id) on delete cascade,
  card_number text        not null check (card_number ~ '^[0-9]{12,19}$'),
  card_last4  text        generated always as (right(card_number, 4)) stored,
  updated_at  timestamptz not null default now()
);

alter table platform.customer_payment_methods enable row level security, force row level security;

-- A customer sets and reads their own card (reads answer only the last four digits); the payments
-- saga (actor kind system) reads a customer's card when it charges an order. Admins get nothing: an
-- operator has no business with card numbers.
create policy customer_self on platform.customer_payment_methods for all
  using ((select current_setting('brigade.actor_kind', true)) = 'customer'
         and customer_id = (select case when current_setting('brigade.actor_kind', true) = 'customer'
                                        then nullif(current_setting('brigade.actor_id', true), '')::uuid end))
  with check ((select current_setting('brigade.actor_kind', true)) = 'customer'
         and customer_id = (select case when current_setting('brigade.actor_kind', true) = 'customer'
                                        then nullif(current_setting('brigade.actor_id', true), '')::uuid end));
create policy system_read on platform.customer_payment_methods for select
  using ((select current_setting('brigade.actor_kind', true)) = 'system');

revoke all on platform.customer_payment_methods from public;
