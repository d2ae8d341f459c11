import assert from 'node:assert/strict';
import pg from 'pg';
import { describe, test } from 'node:test';
import { runMain } from '../support/cli.ts';
import { useTestDatabase } from '../support/db.ts';
import { serveBrigade, type ServingBrigade } from '../support/embeddedHome.ts';
import { eventually } from '../support/eventually.ts';

/**
 * Two `brigade serve` on one database without Redis (DESIGN.md allows `brigade start` beside
 * `brigade serve --service X`): each caches menus in its own memory, so a change made through one
 * must evict the other's copy (through PostgreSQL), not wait for the TTL, here an hour.
 */
describe('two brigade serve on one database, no REDIS_URL', () => {
  const database = useTestDatabase();

  test("a menu change made through one instance ends the other's cached copy, also after its eviction LISTEN was cut", async (t) => {
    const env = { DATABASE_URL: database.db.url, BRIGADE_SECRET: 's'.repeat(40), CACHE_TTL_SECONDS: '3600' };
    const added = await runMain(['tenants', 'add', 'Casa Dupla', '--city', 'Porto'], env);
    assert.equal(added.code, 0, added.stderr);
    const rid = /created restaurant ([0-9a-f-]{36})/.exec(added.stdout)![1]!;
    const minted = await runMain(['token', '--role', 'staff', '--restaurant', rid], env);
    assert.equal(minted.code, 0, minted.stderr);
    const staff = minted.stdout.trim();

    const starting = [serveBrigade(['serve'], { ...env, PORT: '0' }), serveBrigade(['serve'], { ...env, PORT: '0' })] as const;
    t.after(() => Promise.all(starting.map((s) => s.then((server) => server.stop('SIGTERM')).catch(() => undefined))));
    const [a, b] = await Promise.all(starting);

    const call = async (server: ServingBrigade, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const response = await fetch(`${server.base}/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${staff}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      return { status: response.status, etag: response.headers.get('etag'), cache: response.headers.get('x-cache'), json: (await response.json()) as Record<string, unknown> };
    };
    const category = await call(a, 'POST', `/restaurants/${rid}/menu/categories`, { name: 'Pizza' });
    assert.equal(category.status, 201, JSON.stringify(category.json));
    const item = await call(a, 'POST', `/restaurants/${rid}/menu/items`, { categoryId: category.json.id, name: 'Margherita', price: 900 });
    assert.equal(item.status, 201, JSON.stringify(item.json));
    const priceOn = async (server: ServingBrigade) => {
      const menu = await call(server, 'GET', `/restaurants/${rid}/menu`);
      assert.equal(menu.status, 200);
      const items = (menu.json.categories as Array<{ items: Array<{ price: number }> }>).flatMap((c) => c.items);
      return { price: items[0]?.price, cache: menu.cache };
    };
    let version = 1;
    const change = async (server: ServingBrigade, price: number) => {
      const patched = await call(server, 'PATCH', `/restaurants/${rid}/menu/items/${String(item.json.id)}`, { price }, { 'if-match': `"${version}"` });
      assert.equal(patched.status, 200, JSON.stringify(patched.json));
      version += 1;
    };
    /** B answers `price` from its memory (read until it has cached it). */
    const cachedOnB = (price: number) =>
      eventually(`B to answer ${price} from memory`, () => priceOn(b), (now) => now.price === price && now.cache === 'hit-memory', 20_000);

    await cachedOnB(900);
    await change(a, 950);
    assert.equal((await priceOn(a)).price, 950);
    // Before, B kept answering 900 (hit-memory) until the TTL.
    await eventually('B to serve the new price', () => priceOn(b), (now) => now.price === 950, 20_000);
    await cachedOnB(950);

    // The LISTENs are cut (as a database restart or a network fault would): B listens again, and meanwhile
    // trusts nothing it holds, so the next change is seen too.
    const admin = new pg.Client({ connectionString: database.db.url });
    await admin.connect();
    try {
      const cut = await admin.query(`select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and query = 'listen brigade_cache_evictions'`);
      assert.equal(cut.rowCount, 2, 'each instance LISTENs once');
    } finally {
      await admin.end();
    }
    await change(a, 990);
    await eventually('B to serve the price changed after its LISTEN was cut', () => priceOn(b), (now) => now.price === 990, 20_000);
    await cachedOnB(990);
    await change(a, 1000);
    await eventually('B to serve the next change', () => priceOn(b), (now) => now.price === 1000, 20_000);
  });
});
