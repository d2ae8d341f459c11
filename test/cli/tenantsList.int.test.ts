import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runMain } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';

// Found by a review of the CLI (forty-eighth session): the list asked for at most 100,000 rows and
// said "100000 restaurant(s)" with exit 0 past that; the rows are by city, so whole cities went missing.
describe('brigade tenants list', () => {
  const database = useTestDatabase();

  test('lists every restaurant, past 100,000 and across many pages, and counts them right', async () => {
    const pool = database.pool(1);
    const { url } = database.db;
    // 100,010 in Berlin (first by city), then a few real ones in cities after it, one of them in its own database.
    await pool.query(`insert into platform.cities (name) values ('Berlin'), ('Lyon'), ('Paris'), ('東京')`);
    await pool.query(
      `insert into platform.restaurants (city_id, name)
       select (select id from platform.cities where name = 'Berlin'), 'Imbiss ' || lpad(i::text, 6, '0') from generate_series(1, 100010) i`,
    );
    const later = await pool.query<{ id: string; city: string; name: string }>(
      `insert into platform.restaurants (city_id, name)
       select c.id, n from platform.cities c, unnest(array['Chez Marie', 'Bouchon', 'Sushi Ya']) n where c.name <> 'Berlin'
       returning id, (select name from platform.cities where id = city_id) as city, name`,
    );
    const dedicated = later.rows.find((r) => r.city === 'Paris' && r.name === 'Bouchon')!;
    await pool.query(`insert into platform.tenant_placements (tenant_id, database_url) values ($1, 'postgres://brigade@db.example/bouchon')`, [dedicated.id]);
    const total = 100_010 + later.rows.length;

    const listed = await runMain(['tenants', 'list'], { DATABASE_URL: url });
    assert.equal(listed.code, 0, listed.stderr);
    const lines = listed.stdout.split('\n');
    assert.equal(lines.at(-1), `${total} restaurant(s)`, 'the count is of every restaurant');
    const rows = lines.slice(1, -1);
    assert.equal(rows.length, total, 'one line per restaurant');
    const ids = rows.map((line) => line.slice(0, 36));
    assert.equal(new Set(ids).size, total, 'no restaurant twice (the pages do not overlap)');
    for (const r of later.rows) assert.match(listed.stdout, new RegExp(`${r.id}\\s+${r.city}\\s+${r.name}\\s+${r.id === dedicated.id ? 'dedicated' : 'shared'}`), `${r.city} is listed`);
    // In the list's order (city, name): Berlin's 100,010 first, Imbiss 000001 to 100010, then Lyon, Paris, 東京.
    assert.match(rows[0]!, /Berlin\s+Imbiss 000001 /);
    assert.match(rows[100_009]!, /Berlin\s+Imbiss 100010 /);
    assert.deepEqual(rows.slice(100_010).map((line) => line.slice(38).split(/\s{2,}/).slice(0, 2).join(' / ')), [
      'Lyon / Bouchon', 'Lyon / Chez Marie', 'Lyon / Sushi Ya', 'Paris / Bouchon', 'Paris / Chez Marie', 'Paris / Sushi Ya', '東京 / Bouchon', '東京 / Chez Marie', '東京 / Sushi Ya',
    ]);

    const paris = await runMain(['tenants', 'list', '--city', 'paris'], { DATABASE_URL: url });
    assert.equal(paris.code, 0, paris.stderr);
    assert.equal(paris.stdout.split('\n').at(-1), '3 restaurant(s)');
  });
});
