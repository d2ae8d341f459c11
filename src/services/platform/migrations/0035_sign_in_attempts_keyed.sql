-- Sign-in attempts (0027) are keyed with the server secret, and erasure deletes an address's (decision
-- 0007, "Fixed later (forty-seventh session)"; found by the erasure review).
--
-- `email_hash` was the SHA-256 of the lower-cased address: anyone with the database and an address (or
-- a list of them) could recompute it and learn who failed to sign in, and when, also after the
-- customer's erasure. From this release on it is an HMAC-SHA-256 under a key derived from the server
-- secret (src/services/platform/operations/signInAttemptHash.ts). The unkeyed rows would never match a
-- keyed one again, so they go now: at most 15 minutes of failures are forgotten once, and no unkeyed
-- hash outlives the migration. TRUNCATE, as the table's owner: its policies would let no DELETE here.
truncate platform.customer_sign_in_attempts;

comment on column platform.customer_sign_in_attempts.email_hash is
  'HMAC-SHA-256 of the e-mail address as lower() folds it, under a key derived from the server secret (BRIGADE_SECRET): a rotated secret leaves the rows counting for nothing';

-- Erasing a customer deletes the attempts of their address, in the erasure's transaction, as its system
-- actor `customer-erasure` (0026). It finds them by their hash, and a DELETE with a WHERE deletes only
-- rows a SELECT policy lets it read too: hence the two.
-- The sign-in actor keeps every right it had (`sign_in_only`); nobody else sees an attempt.
create policy erasure_forgets on platform.customer_sign_in_attempts for delete
  using ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) = 'customer-erasure');
create policy erasure_finds on platform.customer_sign_in_attempts for select
  using ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) = 'customer-erasure');
