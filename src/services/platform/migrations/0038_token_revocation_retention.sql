-- Token revocations are deleted once every token they refuse has expired (decision 0007, "Fixed later
-- (forty-ninth session, 7 Dec 2026): token revocations are pruned"). 0033 kept them for good: nobody may
-- delete one, since that would undo a revocation.
--
-- A row refuses the tokens of its role and subject issued up to `revoked_before`, and the verifier
-- refuses a token that lives longer than 30 days and a second from its iat, or that has none
-- (TOKEN_MAX_LIFETIME_SECONDS, src/platform/auth/tokens.ts). So every token a row refuses has expired
-- 30 days and a second after `revoked_before`; the worker `platform/token-revocation-retention` deletes
-- the row TOKEN_REVOCATION_GRACE_MS (an hour by default) after that, as the system actor
-- `token-revocation-retention`.
--
-- The service's role may delete again, but the restrictive policy lets only that actor delete, and only
-- rows older than 30 days, a second and a minute (the least grace the setting takes): no admin, no other
-- actor and no setting can delete a revocation while a token it refuses may still be valid. The two
-- permissive policies let the actor find the rows and delete them (a DELETE with a WHERE deletes only
-- rows a SELECT policy lets it read too); it may not insert or update one. The index on `revoked_before`
-- (0033) serves the pass.
grant delete on platform.token_revocations to brigade_platform;

create policy retention_finds on platform.token_revocations for select
  using ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) = 'token-revocation-retention');
create policy retention_deletes on platform.token_revocations for delete
  using ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) = 'token-revocation-retention');
create policy delete_only_expired on platform.token_revocations as restrictive for delete
  using ((select current_setting('brigade.actor_kind', true)) = 'system'
         and (select current_setting('brigade.actor_id', true)) = 'token-revocation-retention'
         and revoked_before < now() - interval '30 days 61 seconds');
