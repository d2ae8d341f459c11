import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { createTestDatabase } from '../../support/db.ts';
import { startTestPlatform } from '../../support/platform.ts';

test('a dedicated database serves one restaurant: a move into a database that already serves another is refused before anything is copied', async () => {
  const t = await startTestPlatform();
  const target = await createTestDatabase({ empty: true });
  try {
    const admin = await t.token('admin', { subject: 'ops' });
    const make = async (name: string) => (await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city: 'Lisbon' } })).json().id as string;
    const first = await make('First');
    const second = await make('Second');
    const move = (tenantId: string) => moveTenant({ tenantId, sourceUrl: t.db.url, targetUrl: target.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
    await move(first);

    await assert.rejects(move(second), (error: { code?: string; message?: string }) => error.code === 'TENANT_TARGET_IN_USE' && error.message?.includes('new, empty database') === true);
    const client = new pg.Client({ connectionString: target.url });
    await client.connect();
    try {
      const copied = await client.query(`select count(*)::int as n from platform.restaurants where id = $1`, [second]);
      assert.equal(copied.rows[0].n, 0, 'nothing of the second restaurant reached the database');
    } finally {
      await client.end();
    }
    const staff = await t.token('staff', { restaurantId: second });
    assert.equal((await t.request({ url: `/v1/restaurants/${second}/staff`, token: staff })).statusCode, 200, 'the second restaurant is served from the shared database as before');
  } finally {
    await t.close();
    await target.drop();
  }
});
