-- The tenant fence for a merged batch (docs/decisions/0063): the group committer runs the appends of
-- several units of work, each of its own tenant, as ONE statement. That transaction has no tenant of its
-- own (brigade.tenant_id is '') and lists its tenants in brigade.batch_tenants, which the event stores'
-- and outboxes' batch policies admit. platform.enter_tenants fences every one of them as
-- platform.enter_tenant fences one: the listed tenants must be exactly the batch's (42501 otherwise, so
-- no tenant is written unfenced), each one's shared move lock is taken, and BRMOV (the placement in
-- DETAIL) is raised when one lives elsewhere than its unit believed. A failure fails the merged batch,
-- and the committer runs its units again one by one, where each gets its own fence's answer.
create function platform.enter_tenants(p_tenants uuid[], p_believed text[]) returns void
  language plpgsql
  security definer
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_batch uuid[] := string_to_array(nullif(current_setting('brigade.batch_tenants', true), ''), ',')::uuid[];
  v_url text;
begin
  if nullif(current_setting('brigade.tenant_id', true), '') is not null or v_batch is null
     or cardinality(p_tenants) is distinct from cardinality(p_believed)
     or not (p_tenants <@ v_batch and v_batch <@ p_tenants) then
    raise exception 'tenant_fence: the tenants are not those of this batch transaction' using errcode = '42501';
  end if;
  perform pg_advisory_xact_lock_shared(hashtext('brigade.tenant_fence'), hashtext(t::text))
     from (select distinct t from unnest(p_tenants) t order by 1) l;
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

revoke all on function platform.enter_tenants(uuid[], text[]) from public;
grant execute on function platform.enter_tenants(uuid[], text[]) to brigade_platform, brigade_menu, brigade_ordering, brigade_delivery, brigade_payments;
