-- platform.enter_tenants (0012, 0016) fences a merged batch of several tenants' units: it must raise
-- BRMOV when one of them lives in another database. It is SECURITY DEFINER and reads
-- platform.tenant_placements as the table's owner, and FORCE ROW LEVEL SECURITY subjects that owner to
-- the table's policies unless it is a superuser or has BYPASSRLS: a managed PostgreSQL's owner role
-- usually has neither. A batch transaction has no tenant of its own (brigade.tenant_id is ''), so
-- tenant_self_read showed the function no placement at all: a moved tenant's batched append was not
-- refused and was written to the old database. (platform.enter_tenant, one tenant, was never affected:
-- its transaction's tenant is set.) This policy shows the owner, which the fence functions run as, the
-- placements of the tenants a batch transaction lists in brigade.batch_tenants; it is for the owner
-- only, so no service role reads more of the catalog (its connection strings) than before.
-- Every tenant transaction reads this table in its fence, and CREATE POLICY locks it exclusively: wait
-- at most 5 s for the transactions open now (then fail, to be run again), not behind them with
-- every new tenant transaction queued behind the migration.
set local lock_timeout = '5s';
do $$
begin
  execute format(
    $f$create policy batch_tenants_read on platform.tenant_placements for select to %I
         using (tenant_id = any ((select string_to_array(nullif(current_setting('brigade.batch_tenants', true), ''), ','))::uuid[]))$f$,
    current_user);
end
$$;
