import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import pg from 'pg';
import { runMain } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

// Decision 0040, "Fixed later (forty-eighth session)": a restaurant's pick-up address, where couriers
// fetch its orders, is given with the restaurant, as POST /v1/restaurants takes it.
describe('brigade tenants add --address', () => {
  const database = useTestDatabase();

  test('keeps the pick-up address (trimmed, NFC) and audits it; a blank or control-character address, or --address on list, is bad usage', async () => {
    const { url } = database.db;
    const home = await fs.mkdtemp(path.join(os.tmpdir(), 'brigade-cli-'));
    const pool = new pg.Pool({ connectionString: url, max: 1 });
    try {
      const env = { DATABASE_URL: url, BRIGADE_HOME: home };
      const added = await runMain(['tenants', 'add', 'Casa do Largo', '--city', 'Porto', '--address', ` ${'Largo de São Domingos 1, Porto'.normalize('NFD')} `], env);
      assert.equal(added.code, 0, added.stderr);
      assert.match(added.stdout, /^created restaurant [0-9a-f-]{36} \(Casa do Largo, Porto, EUR\), pick-up at Largo de São Domingos 1, Porto$/m);
      const id = /created restaurant ([0-9a-f-]{36})/.exec(added.stdout)![1];
      const { rows } = await pool.query<{ pickup_address: string }>('select pickup_address from platform.restaurants where id = $1', [id]);
      assert.deepEqual(rows, [{ pickup_address: 'Largo de São Domingos 1, Porto' }]);
      const audit = await pool.query<{ target: { pickupAddress: string } }>(`select target from platform.admin_audit where route = 'tenants add' and target->>'id' = $1`, [id]);
      assert.deepEqual(audit.rows.map((a) => a.target.pickupAddress), ['Largo de São Domingos 1, Porto']);

      const without = await runMain(['tenants', 'add', 'Casa Sem Morada', '--city', 'Porto'], env);
      assert.equal(without.code, 0, without.stderr);
      assert.doesNotMatch(without.stdout, /pick-up at/);

      for (const address of ['   ', 'Rua\n1', 'Rua \u202e1', 'x'.repeat(501)]) {
        const bad = await runMain(['tenants', 'add', 'Casa Errada', '--city', 'Porto', '--address', address], env);
        assert.equal(bad.code, 2, `${JSON.stringify(address)}: ${bad.stdout}${bad.stderr}`);
        assert.match(bad.stderr, /--address must /, bad.stderr);
      }
      const onList = await runMain(['tenants', 'list', '--address', 'Rua 1'], env);
      assert.equal(onList.code, 2, onList.stderr);
    } finally {
      await pool.end();
      await fs.rm(home, { recursive: true, force: true });
    }
  });
});
