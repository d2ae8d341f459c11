-- Customer password sign-in (decision 0007, "Fixed later: sign-in"): a customer's password hash, and
-- the failed sign-ins that rate-limit guessing.
--
-- The hash is personal data of the row, so erasing the customer (a real DELETE) takes it along. It is
-- `scrypt$N$r$p$<salt>$<key>` (src/platform/auth/passwords.ts), null while no password is set. No route
-- answers it: the statements that read customers name their columns, and only sign-in reads this one.
alter table platform.customers add column password_hash text
  check (password_hash ~ '^scrypt\$[0-9]+\$[0-9]+\$[0-9]+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$');

-- The table's policies stay as they are (a customer reads and writes their own row, an admin every
-- row). Signing in happens before anyone is known, so it reads as the system actor
-- `customer-sign-in`, which may only select, and which only the sign-in operation acts as.
create policy sign_in_read on platform.customers for select
  using ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) = 'customer-sign-in');

-- One row per sign-in attempt that has not succeeded (an attempt is written before its password is
-- checked and deleted again when it matches), keyed by the SHA-256 of the lower-cased e-mail address,
-- never the address itself: whether or not a customer has it, so the limiter answers alike for both.
-- Rows older than the window (15 minutes) count for nothing and are pruned by later attempts.
create table platform.customer_sign_in_attempts (
  id         bigint      generated always as identity primary key,
  email_hash bytea       not null check (length(email_hash) = 32),
  at         timestamptz not null default now()
);
create index customer_sign_in_attempts_of_email on platform.customer_sign_in_attempts (email_hash, at);
create index customer_sign_in_attempts_by_age on platform.customer_sign_in_attempts (at);

alter table platform.customer_sign_in_attempts enable row level security, force row level security;

-- Only the sign-in actor reads or writes attempts: no customer, admin or other service sees them.
create policy sign_in_only on platform.customer_sign_in_attempts for all
  using ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) = 'customer-sign-in')
  with check ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) = 'customer-sign-in');

revoke all on platform.customer_sign_in_attempts from public;
