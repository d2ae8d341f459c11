import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import pg from 'pg';
import { migrationSets, SERVICE_NAMES } from '../../../src/composition/services.ts';
import { runMigrations } from '../../../src/platform/migrations/index.ts';
import { createOwnerRole } from '../../support/db.ts';

const SERVICE_ROLES = SERVICE_NAMES.map((s) => `brigade_${s}`);

// The tenant fences read the placement catalog as its owner (SECURITY DEFINER), and FORCE ROW LEVEL
// SECURITY holds an owner that is neither superuser nor BYPASSRLS (a managed PostgreSQL's usual owner)
// to the catalog's policies. The test suite migrates as a superuser, which hides that: here a database
// is migrated by an owner without those rights, and both fences must still refuse a moved tenant.
test('migrated by an owner without superuser or BYPASSRLS, both tenant fences refuse a tenant that lives elsewhere, and no service role reads its connection string', async () => {
  const owner = await createOwnerRole(SERVICE_ROLES, { bypassRls: false });
  const db = await owner.createDatabase();
  const client = new pg.Client({ connectionString: db.url });
  try {
    await runMigrations({ url: db.url, sets: migrationSets() });
    await client.connect();
    const tenant = randomUUID();
    await client.query('begin');
    await client.query(`select set_config('brigade.actor_kind', 'admin', true)`);
    await client.query(`insert into platform.cities (name) values ('Fence') on conflict do nothing`);
    await client.query(`insert into platform.restaurants (id, city_id, name) select $1, id, 'Moved' from platform.cities where name = 'Fence'`, [tenant]);
    await client.query(`insert into platform.tenant_placements (tenant_id, database_url) values ($1, 'postgres://elsewhere/brigade')`, [tenant]);
    await client.query('commit');

    /** The fence's error code as a service's transaction meets it (null: it let the transaction in). */
    const fence = async (setting: string, call: string): Promise<string | null> => {
      await client.query('begin');
      try {
        await client.query('set local role brigade_ordering');
        await client.query(`select set_config($1, $2, true)`, [setting, tenant]);
        await client.query(call, [tenant]);
        return null;
      } catch (error) {
        return (error as { code?: string }).code ?? 'no code';
      } finally {
        await client.query('rollback');
      }
    };
    assert.equal(await fence('brigade.tenant_id', `select platform.enter_tenant($1::uuid, '')`), 'BRMOV', 'one tenant');
    assert.equal(await fence('brigade.batch_tenants', `select platform.enter_tenants(array[$1::uuid], array[''])`), 'BRMOV', 'a merged batch');
    // The policy that lets the batch fence read placements is the owner's: a service role listing the
    // tenant as its batch still reads no connection string.
    await client.query('begin');
    await client.query('set local role brigade_platform');
    await client.query(`select set_config('brigade.batch_tenants', $1, true)`, [tenant]);
    const seen = await client.query('select database_url from platform.tenant_placements');
    await client.query('rollback');
    assert.equal(seen.rowCount, 0);
    // Nor one acting as staff of the tenant: the policy that lets the one-tenant fence read its
    // placement is the owner's too (platform 0022).
    await client.query('begin');
    await client.query('set local role brigade_platform');
    await client.query(`select set_config('brigade.tenant_id', $1, true), set_config('brigade.actor_kind', 'staff', true)`, [tenant]);
    const asStaff = await client.query('select database_url from platform.tenant_placements');
    await client.query('rollback');
    assert.equal(asStaff.rowCount, 0);
  } finally {
    await client.end().catch(() => undefined);
    await owner.drop();
  }
});
