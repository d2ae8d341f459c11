-- The tenant fence as ONE plpgsql call (docs/decisions/0055): enter_tenant used to call tenant_fence,
-- two functions, each with its own search_path to set and restore, on every transaction of the platform.
-- Same checks, same errors: the transaction's own tenant only (42501), a shared advisory lock that a
-- move's exclusive one waits for, and BRMOV with the placement in DETAIL when the tenant lives elsewhere.
-- SECURITY DEFINER now (it reads platform.tenant_placements itself, as tenant_fence did for it).
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
  perform pg_advisory_xact_lock_shared(hashtext('brigade.tenant_fence'), hashtext(p_tenant::text));
  select database_url into v_url from platform.tenant_placements where tenant_id = p_tenant;
  if coalesce(v_url, '') <> '' and v_url is distinct from p_believed then
    raise exception 'tenant % lives in another database', p_tenant using errcode = 'BRMOV', detail = v_url;
  end if;
end
$$;
