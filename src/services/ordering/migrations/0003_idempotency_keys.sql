-- Idempotency keys of POST /v1/orders (docs/decisions/0026).
--
-- Keyed by (customer_id, key): a key is the customer's, across restaurants, so the table is
-- tenant-free (restaurant_id is kept to find the order's stream, and is deliberately not named
-- tenant_id). The claim (INSERT … ON CONFLICT) and the order's first events commit in one
-- transaction, so a key never exists without its order. request_hash is the SHA-256 of the canonical
-- request body: the same key with another body is refused (422 IDEMPOTENCY_KEY_REUSED).
-- Keys expire after 24 hours: an expired key may be claimed again, and pruneIdempotencyKeys deletes
-- them (index idempotency_keys_created).
create table ordering.idempotency_keys (
  customer_id     uuid        not null,
  key             text        not null check (length(key) between 1 and 255),
  request_hash    bytea       not null check (length(request_hash) = 32),
  order_id        uuid        not null,
  restaurant_id   uuid        not null,
  response_status smallint    not null,
  created_at      timestamptz not null default now(),
  primary key (customer_id, key)
);
create index idempotency_keys_created on ordering.idempotency_keys (created_at);

alter table ordering.idempotency_keys enable row level security, force row level security;

-- A customer sees and claims only their own keys; admin and system (the pruner) all of them.
create policy customer_own on ordering.idempotency_keys for all
  using (customer_id = (select case when current_setting('brigade.actor_kind', true) = 'customer'
                                    then nullif(current_setting('brigade.actor_id', true), '')::uuid end))
  with check (customer_id = (select case when current_setting('brigade.actor_kind', true) = 'customer'
                                         then nullif(current_setting('brigade.actor_id', true), '')::uuid end));
create policy admin_system_all on ordering.idempotency_keys for all
  using ((select current_setting('brigade.actor_kind', true)) in ('admin', 'system'))
  with check ((select current_setting('brigade.actor_kind', true)) in ('admin', 'system'));
