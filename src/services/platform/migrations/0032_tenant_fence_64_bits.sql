-- The tenant fence on 64 bits of the tenant's id (docs/decisions/0008, "Fixed later: one fence per
-- tenant"; found by a review). The fence was the two-int advisory lock (hashtext('brigade.tenant_fence'),
-- hashtext(tenant::text)): 32 bits of the id, so two restaurants could share it (14 colliding pairs in
-- 300,000 random ids), and a move of one refused the other's writes with a false BRMVG, skipped its saga
-- claims and waited for its transactions. The key is now ONE bigint:
--   hashtextextended(tenant::text, hashtext('brigade.tenant_fence')) | x'8000000000000000'::bigint
-- 63 bits of a seeded 64-bit hash (300,000 tenants: a shared fence with probability about 5e-9), the
-- sign bit set so that it can never equal another single-bigint advisory lock of the platform: those
-- are fixed, non-negative numbers (the migration lock, the bus's and the stand-in provider's DDL
-- locks). Every other advisory lock of the platform uses two ints, a different key space in pg_locks
-- (objsubid 2; one bigint is objsubid 1). src/platform/tenancy/tenantFence.ts (tenantFenceKey) spells
-- the same expression for the move and the saga claims' guard.
--
-- Rolling deploy: a process of an older release still tries the old key in its own SQL (its saga
-- claims' guard), so a move of this release takes both keys (moveFenceKeys) until no older release runs.
-- A move of an older release takes only the old key, which these functions no longer try: the
-- tenant's writes would not wait for it. The trigger below refuses its placement, so it fails whole
-- and nothing moves (its copy in the target is cleared by the next move). Same checks, same BRMOV and
-- BRMVG, same signatures; create or replace keeps their owner and grants.
create or replace function platform.enter_tenant(p_tenant uuid, p_believed text) returns void
  language plpgsql
  security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_url text;
begin
  if p_tenant is distinct from nullif(current_setting('brigade.tenant_id', true), '')::uuid then
    raise exception 'tenant_fence: % is not the tenant of this transaction', p_tenant using errcode = '42501';
  end if;
  if not pg_try_advisory_xact_lock_shared(hashtextextended(p_tenant::text, hashtext('brigade.tenant_fence')) | x'8000000000000000'::bigint) then
    raise exception 'tenant % is being moved to another database', p_tenant
      using errcode = 'BRMVG', hint = 'Nothing was written: run the transaction again in a moment, once the move is over.';
  end if;
  select database_url into v_url from platform.tenant_placements where tenant_id = p_tenant;
  if coalesce(v_url, '') <> '' and v_url is distinct from p_believed then
    raise exception 'tenant % lives in another database', p_tenant using errcode = 'BRMOV', detail = v_url;
  end if;
end
$$;

create or replace function platform.enter_tenants(p_tenants uuid[], p_believed text[]) returns void
  language plpgsql
  security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_batch uuid[] := string_to_array(nullif(current_setting('brigade.batch_tenants', true), ''), ',')::uuid[];
  v_moving uuid;
  v_url text;
begin
  if nullif(current_setting('brigade.tenant_id', true), '') is not null or v_batch is null
     or cardinality(p_tenants) is distinct from cardinality(p_believed)
     or not (p_tenants <@ v_batch and v_batch <@ p_tenants) then
    raise exception 'tenant_fence: the tenants are not those of this batch transaction' using errcode = '42501';
  end if;
  select t into v_moving
    from (select distinct t from unnest(p_tenants) t) l
   where not pg_try_advisory_xact_lock_shared(hashtextextended(t::text, hashtext('brigade.tenant_fence')) | x'8000000000000000'::bigint)
   limit 1;
  if v_moving is not null then
    raise exception 'tenant % of this batch is being moved to another database', v_moving
      using errcode = 'BRMVG', hint = 'Nothing was written: run the transaction again in a moment, once the move is over.';
  end if;
  select p.database_url into v_url
    from unnest(p_tenants, p_believed) b(tenant, believed)
    join platform.tenant_placements p on p.tenant_id = b.tenant
   where coalesce(p.database_url, '') <> '' and p.database_url is distinct from b.believed
   limit 1;
  if v_url is not null then
    raise exception 'a tenant of this batch lives in another database' using errcode = 'BRMOV', detail = v_url;
  end if;
end
$$;

-- A placement recorded by a session that holds the tenant's OLD fence exclusively and not the new one
-- is an older release's move: the tenant's writes did not wait for it, and rows written during its
-- copy would stay behind in this database. Refused, so its transaction (the deletes with it) rolls back.
-- Anything else (a move of this release, which holds both; an admin's or a test's insert, which holds
-- neither) passes. Reads pg_locks only when a placement is written, which is once per move.
-- Removable, with the old key in moveFenceKeys, once no release older than this migration runs.
create function platform.refuse_placement_by_old_move() returns trigger
  language plpgsql
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_new bigint := hashtextextended(new.tenant_id::text, hashtext('brigade.tenant_fence')) | x'8000000000000000'::bigint;
begin
  if exists (select 1 from pg_locks l
              where l.locktype = 'advisory' and l.pid = pg_backend_pid() and l.granted and l.mode = 'ExclusiveLock'
                and l.objsubid = 2 and l.classid = hashtext('brigade.tenant_fence')::oid and l.objid = hashtext(new.tenant_id::text)::oid)
     and not exists (select 1 from pg_locks l
                      where l.locktype = 'advisory' and l.pid = pg_backend_pid() and l.granted and l.mode = 'ExclusiveLock'
                        and l.objsubid = 1 and l.classid = ((v_new >> 32) & 4294967295)::oid and l.objid = (v_new & 4294967295)::oid) then
    raise exception 'tenant %: this move holds only the fence of releases before platform migration 0032, so the tenant''s writes did not wait for it', new.tenant_id
      using errcode = '55000', hint = 'Nothing moved. Run brigade tenants move from the release that migrated this database (or a later one).';
  end if;
  return new;
end
$$;

-- CREATE TRIGGER locks the catalog against writers (a move's placement), not against the fences'
-- reads; wait at most 5 s for it all the same, as 0017 and 0022 do.
set local lock_timeout = '5s';

create trigger refuse_placement_by_old_move
  before insert or update of tenant_id, database_url on platform.tenant_placements
  for each row execute function platform.refuse_placement_by_old_move();
