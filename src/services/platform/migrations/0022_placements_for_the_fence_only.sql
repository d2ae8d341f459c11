-- Dedicated databases' connection strings (passwords included) were readable by every service role
-- (docs/decisions/0006, 0008; found by a review):
-- - platform.tenant_fence(uuid), the fence of migration 0002, is SECURITY DEFINER, granted to all five
--   service roles and returns the placement's database_url. enter_tenant stopped calling it in 0008; no
--   code calls it since. Any service transaction with its tenant set could ask it for the URL.
-- - tenant_self_read (0002) is FOR SELECT to PUBLIC and asks nothing of the actor, so brigade_platform
--   with any actor (staff, courier, customer) and its tenant set read its restaurant's database_url.
-- The function goes. The policy stays for the one reader that needs it: the owner, which the fence
-- enter_tenant runs as (SECURITY DEFINER) and which FORCE ROW LEVEL SECURITY holds to these policies
-- when it is neither superuser nor BYPASSRLS; batch_tenants_read (0017) is the owner's already. Every
-- other reader of the catalog (the directory, the placement catalog the router and the relays read,
-- `brigade tenants list`, migrate's list of dedicated databases, a move) acts as an admin, which
-- admin_all admits.
-- Every tenant transaction reads this table in its fence and ALTER POLICY locks it exclusively: wait at
-- most 5 s for the transactions open now (then fail, to be run again), as 0017 does.
set local lock_timeout = '5s';

drop function platform.tenant_fence(uuid);

-- To the role enter_tenant runs as (its owner: the role that migrated it, which create or replace
-- kept), named from the catalog rather than assumed to be the role running this migration.
do $$
begin
  execute format('alter policy tenant_self_read on platform.tenant_placements to %I',
                 (select pg_get_userbyid(proowner) from pg_proc where oid = 'platform.enter_tenant(uuid, text)'::regprocedure));
end
$$;
