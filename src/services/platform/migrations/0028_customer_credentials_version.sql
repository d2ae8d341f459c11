-- A credential change revokes the customer's earlier tokens (decision 0007, "Fixed later: a credential
-- change revokes earlier customer tokens"): a security stamp, as ASP.NET Identity keeps one.
--
-- Every write of a credential adds one, in the statement that writes it: a password changed or set
-- (setCustomerPassword) and a password removed by an admin (clearCustomerPassword). Replacing a hash
-- of older parameters at sign-in (the same password) does not. A customer token carries the version it
-- was signed at (its `cv` claim, absent = 0) and is refused with 401 TOKEN_REVOKED once the customer's
-- is higher. Existing rows start at 0, which tokens signed before this migration carry: none is refused
-- by it.
alter table platform.customers add column credentials_version integer not null default 0
  check (credentials_version >= 0);

-- The check on every customer request (refuseRevokedCustomerTokens) reads the version as the system
-- actor `customer-token-check`, in the statement that reads the erasure tombstone
-- (platform.customer_keys). It may only select, as `sign_in_read` of 0027 for sign-in, and only the
-- check acts as it.
create policy token_check_read on platform.customers for select
  using ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) = 'customer-token-check');
