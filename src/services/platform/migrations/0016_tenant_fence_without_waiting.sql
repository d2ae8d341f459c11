-- The tenant fence no longer waits for a move (docs/decisions/0008). enter_tenant and enter_tenants
-- took each tenant's shared move lock with pg_advisory_xact_lock_shared, so while a move held the lock
-- exclusively for its copy, every transaction of the tenant waited inside PostgreSQL on a pooled
-- connection (and in a group-commit batch, the other tenants' units with it): a busy tenant moving for
-- a minute could take the whole pool. They now TRY the lock and, when a move holds it or waits for it
-- (a lock request queued behind the move's exclusive one is refused at once too), raise BRMVG ("tenant
-- moving"). The transaction has done nothing yet; the tenant router gives its connection back, waits
-- without one and tries again, and after the move gets BRMOV and follows the tenant. The fast path is
-- unchanged: one lock call that succeeds, in the same statement. Same checks, same BRMOV, same
-- signatures; create or replace keeps their owner and grants.
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
  if not pg_try_advisory_xact_lock_shared(hashtext('brigade.tenant_fence'), hashtext(p_tenant::text)) then
    raise exception 'tenant % is being moved to another database', p_tenant
      using errcode = 'BRMVG', hint = 'Nothing was written: run the transaction again in a moment, once the move is over.';
  end if;
  select database_url into v_url from platform.tenant_placements where tenant_id = p_tenant;
  if coalesce(v_url, '') <> '' and v_url is distinct from p_believed then
    raise exception 'tenant % lives in another database', p_tenant using errcode = 'BRMOV', detail = v_url;
  end if;
end
$$;

-- A merged batch stops at its first tenant whose lock is taken by a move (their order no longer
-- matters: nothing waits, so nothing can deadlock). The group committer then runs the batch's units
-- again unmerged, where only the moving tenant's own unit gets BRMVG and the others commit.
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
   where not pg_try_advisory_xact_lock_shared(hashtext('brigade.tenant_fence'), hashtext(t::text))
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
