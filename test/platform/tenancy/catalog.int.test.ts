import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import pg from 'pg';
import { SERVICE_NAMES } from '../../../src/composition/services.ts';
import { findTenancyViolations, listSecurityDefinerFunctions, settingsReadOncePerStatement } from '../../../src/platform/tenancy/index.ts';
import { useTestDatabase } from '../../support/db.ts';

describe('tenancy rules, read from the catalog of the fully migrated database', () => {
  const database = useTestDatabase();
  let client: pg.Client;
  before(async () => {
    client = new pg.Client({ connectionString: database.db.url });
    await client.connect();
    database.defer(() => client.end());
  });

  test('every service schema keeps the rules: forced RLS, tenant keys, USING + WITH CHECK, invoker views, safe definers, powerless roles', async () => {
    assert.deepEqual(await findTenancyViolations(client, SERVICE_NAMES), []);
    const forced = await client.query<{ t: string }>(
      `select format('%I.%I', n.nspname, c.relname) as t from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where c.relkind in ('r','p') and n.nspname = any($1) and exists (select 1 from pg_attribute a where a.attrelid = c.oid and a.attname = 'tenant_id')
          and c.relforcerowsecurity`,
      [SERVICE_NAMES],
    );
    assert.ok(forced.rows.some((r) => r.t === 'platform.staff'), 'the check covers real tenant tables');
  });

  test('the bus: a service role writes only messages and deliveries, each under RLS with a policy of its own; what else the rules find is listed and why', async () => {
    // What a brigade_ role may write in brigade_bus, and whether a policy of that role covers its insert.
    const { rows } = await client.query<{ t: string; role: string; rls: boolean; policy: boolean }>(
      `select format('%I.%I', n.nspname, c.relname) as t, r.rolname as role, c.relrowsecurity as rls,
              exists (select 1 from pg_policies p where p.schemaname = n.nspname and p.tablename = c.relname
                         and p.cmd in ('INSERT', 'ALL') and r.rolname = any (p.roles) and p.with_check is not null) as policy
         from pg_class c join pg_namespace n on n.oid = c.relnamespace cross join pg_roles r
        where n.nspname = 'brigade_bus' and c.relkind in ('r', 'p') and r.rolname like 'brigade\\_%'
          and (has_table_privilege(r.oid, c.oid, 'INSERT') or has_any_column_privilege(r.oid, c.oid, 'UPDATE') or has_table_privilege(r.oid, c.oid, 'DELETE'))
        order by 1, 2`,
    );
    const services = [...SERVICE_NAMES].sort();
    assert.deepEqual(
      rows,
      ['brigade_bus.deliveries', 'brigade_bus.messages'].flatMap((t) => services.map((s) => ({ t, role: `brigade_${s}`, rls: true, policy: true }))),
      'a bus table a service role may write needs RLS and an INSERT policy per role (platform migrations 0020, 0041)',
    );
    // The rest of the rules hold on the bus; the RLS sentences left are by design. Not forced on the two
    // tables above: their owner is the transports' own login (decision 0056). No RLS on the others: no
    // service role may write them (grants above), and the one it reads, subscriptions, holds no tenant data.
    const notEnabled = ['claim_check_refs', 'claim_checks', 'dead_letters', 'failures', 'subscriptions'].map((t) => `brigade_bus.${t}: row-level security is not enabled`);
    const notForced = ['deliveries', 'messages'].map((t) => `brigade_bus.${t}: row-level security is not forced`);
    assert.deepEqual((await findTenancyViolations(client, ['brigade_bus'])).sort(), [...notEnabled, ...notForced].sort());
  });

  test('lists every SECURITY DEFINER function: each pins search_path and checks the tenant', async () => {
    const definers = await listSecurityDefinerFunctions(client);
    assert.deepEqual(definers, [
      { name: 'delivery.couriers_of_city(p_city text)', pinnedSearchPath: true, checksTenant: true },
      { name: 'platform.enter_tenant(p_tenant uuid, p_believed text)', pinnedSearchPath: true, checksTenant: true },
      { name: 'platform.enter_tenants(p_tenants uuid[], p_believed text[])', pinnedSearchPath: true, checksTenant: true },
    ]);
  });

  test('it catches each kind of violation', async () => {
    await client.query(`
      create schema leaky;
      create table leaky.orders (tenant_id uuid not null, id uuid primary key, ref uuid unique);
      create table leaky.notes (tenant_id uuid not null, id uuid, primary key (tenant_id, id));
      alter table leaky.notes enable row level security;
      create policy loose on leaky.notes for all using (tenant_id = current_setting('brigade.tenant_id')::uuid);
      create view leaky.v as select * from leaky.notes;
      create function leaky.peek() returns int language sql security definer as 'select 1';
      create function leaky.mentions() returns text language plpgsql security definer set search_path = pg_catalog as $$
      begin
        -- only for the transaction's tenant (brigade.tenant_id): a comment, not a check
        return 'x';
      end
      $$;`);
    try {
      const problems = await findTenancyViolations(client, ['leaky']);
      for (const expected of [
        'leaky.orders: row-level security is not enabled',
        'leaky.notes: row-level security is not forced',
        'leaky.orders: primary key orders_pkey does not include tenant_id',
        'leaky.orders: unique key orders_ref_key does not include tenant_id',
        'leaky.notes: policy loose (ALL) has no WITH CHECK',
        'leaky.notes: policy loose calls current_setting() per row; wrap it as (select current_setting(...))',
        'leaky.v: view is not security_invoker',
        'leaky.peek(): SECURITY DEFINER without a pinned search_path',
        "leaky.peek(): SECURITY DEFINER without a check of brigade.tenant_id (an IF on current_setting('brigade.tenant_id') that raises errcode 42501)",
        "leaky.mentions(): SECURITY DEFINER without a check of brigade.tenant_id (an IF on current_setting('brigade.tenant_id') that raises errcode 42501)",
      ]) {
        assert.ok(problems.includes(expected), `missing: ${expected}\n got: ${problems.join('\n      ')}`);
      }
    } finally {
      await client.query('drop schema leaky cascade');
    }
  });
});

test('settings must be read through a sub-select', () => {
  assert.equal(settingsReadOncePerStatement(`(tenant_id = ( SELECT (NULLIF(current_setting('brigade.tenant_id'::text, true), ''::text))::uuid AS nullif))`), true);
  assert.equal(settingsReadOncePerStatement(`(tenant_id = (NULLIF(current_setting('brigade.tenant_id'::text, true), ''::text))::uuid)`), false);
  assert.equal(settingsReadOncePerStatement(`true`), true);
});
