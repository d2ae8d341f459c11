import assert from 'node:assert/strict';
import { test } from 'node:test';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS, SERVICE_NAMES } from '../../../src/composition/services.ts';
import { runMigrations } from '../../../src/platform/migrations/index.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { createOwnerRole } from '../../support/db.ts';
import { startTestPlatform } from '../../support/platform.ts';
import { command, customer, placeOrder, seedRestaurant } from '../../services/ordering/support.ts';

// A managed PostgreSQL's owner is no superuser; a move needs BYPASSRLS to see every row of the tenant
// (it refuses a role without it, moveTarget.int.test.ts). The suite migrates and moves as a superuser,
// which would hide anything else such an owner may not do: here both databases are made, migrated and
// served by an owner with BYPASSRLS only, the restaurant is moved by it, and the platform serves it on.
test('an owner with BYPASSRLS and no superuser moves a restaurant, and the platform serves it from its own database', async () => {
  const owner = await createOwnerRole(
    SERVICE_NAMES.map((s) => `brigade_${s}`),
    { bypassRls: true },
  );
  const shared = await owner.createDatabase();
  const target = await owner.createDatabase();
  try {
    await runMigrations({ url: shared.url, sets: migrationSets() });
    const t = await startTestPlatform({}, { ...shared, drop: async () => undefined });
    try {
      const r = await seedRestaurant(t, 'Owned Tasca');
      const c = await customer(t);
      const before = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua do Ouro 1, Lisboa', lines: [{ itemId: r.cola, quantity: 2 }] });
      assert.equal(before.statusCode, 201, before.body);

      const moved = await moveTenant({ tenantId: r.rid, sourceUrl: shared.url, targetUrl: target.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
      assert.equal(moved.rows['ordering.events'], 1, 'the order placed before the move was copied');
      assert.ok((moved.rows['menu.items'] ?? 0) >= 2, 'and the menu');

      // The order placed before the move, its command, and a new order, all in the restaurant's database.
      const read = await t.request({ url: `/v1/orders/${before.json().id}`, token: c.token });
      assert.equal(read.statusCode, 200, read.body);
      const accepted = await command(t, r.staff, before.json().id, 'accept', 1, { etaMinutes: 20 });
      assert.equal(accepted.statusCode, 200, accepted.body);
      const after = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua do Ouro 1, Lisboa', lines: [{ itemId: r.pizza, quantity: 1, modifierIds: [r.small] }] });
      assert.equal(after.statusCode, 201, after.body);

      const count = async (url: string) => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        try {
          return (await client.query<{ n: number }>(`select count(*)::int as n from ordering.events where tenant_id = $1`, [r.rid])).rows[0]!.n;
        } finally {
          await client.end();
        }
      };
      assert.deepEqual([await count(shared.url), await count(target.url)], [0, 3], "every event of the restaurant is in its own database (the owner sees past Row-Level Security)");
    } finally {
      await t.close();
    }
  } finally {
    await owner.drop();
  }
});
