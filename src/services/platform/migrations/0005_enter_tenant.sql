-- The tenant fence as one statement that needs no answer back: platform.enter_tenant(tenant, believed)
-- takes the fence like platform.tenant_fence and RAISES (SQLSTATE BRMOV, the placement in DETAIL) when
-- this database says the tenant lives elsewhere than the caller believed. A unit of work can then send
-- it together with its first statements (pipelined) instead of waiting for the answer before going on:
-- the error aborts the transaction, so nothing after it runs, and the caller retries where the tenant
-- lives (docs/decisions/0008, 0012). SECURITY INVOKER: it only calls tenant_fence, which checks that
-- p_tenant is the transaction's tenant.
create function platform.enter_tenant(p_tenant uuid, p_believed text) returns void
  language plpgsql
  security invoker
  set search_path = pg_catalog, pg_temp
as $$
declare
  v_url text := platform.tenant_fence(p_tenant);
begin
  if v_url <> '' and v_url is distinct from p_believed then
    raise exception 'tenant % lives in another database', p_tenant using errcode = 'BRMOV', detail = v_url;
  end if;
end
$$;
revoke all on function platform.enter_tenant(uuid, text) from public;
grant execute on function platform.enter_tenant(uuid, text) to brigade_platform, brigade_menu, brigade_ordering, brigade_delivery, brigade_payments;
