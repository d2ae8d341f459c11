
create schema if not exists brigade_bus;

create table if not exists brigade_bus.subscriptions (
  name          text primary key,
  pattern       text not null,
  pattern_regex text not null,
  lease_ms      integer not null,
  created_at    timestamptz not null default now()
);

create table if not exists brigade_bus.messages (
  id           uuid primary key,
  subject      text not null,
  key          text not null,
  headers      jsonb not null,
  payload      jsonb,
  published_at timestamptz not null default now()
);

create table if not exists brigade_bus.deliveries (
  id               bigint generated always as identity primary key,
  subscription     text not null references brigade_bus.subscriptions (name) on delete cascade,
  message_id       uuid not null references brigade_bus.messages (id) on delete cascade,
  attempt          integer not null default 0,
  run_at           timestamptz not null default now(),
  lease            uuid,
  first_failed_at  timestamptz,
  last_error       text,
  unique (subscription, message_id)
);
-- The claim reads the oldest due rows of one subscription: this index serves it in order.
create index if not exists deliveries_claim_idx on brigade_bus.deliveries (subscription, run_at, id);
create index if not exists deliveries_message_idx on brigade_bus.deliveries (message_id);

create table if not exists brigade_bus.dead_letters (
  id               uuid primary key,
  subscription     text not null,
  message_id       uuid not null,
  subject          text not null,
  key              text not null,
  headers          jsonb not null,
  payload          jsonb,
  error            text not null,
  attempts         integer not null,
  first_failed_at  timestamptz not null,
  last_failed_at   timestamptz not null,
  transport        text not null
);
create index if not exists dead_letters_subscription_idx on brigade_bus.dead_letters (subscription, last_failed_at);

create table if not exists brigade_bus.failures (
  subscription     text not null,
  message_id       uuid not null,
  first_failed_at  timestamptz not null default now(),
  primary key (subscription, message_id)
);

create table if not exists brigade_bus.claim_checks (
  sha256      text primary key,
  payload     jsonb not null,
  size_bytes  integer not null,
  created_at  timestamptz not null default now()
);

create table if not exists brigade_bus.claim_check_refs (
  sha256       text not null references brigade_bus.claim_checks (sha256) on delete cascade,
  message_id   uuid not null,
  subscription text not null,
  primary key (message_id, subscription)
);
create index if not exists claim_check_refs_sha_idx on brigade_bus.claim_check_refs (sha256);
