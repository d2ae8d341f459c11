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
