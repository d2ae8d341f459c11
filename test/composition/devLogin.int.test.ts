import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createPlatform } from '../../src/composition/runtime.ts';
import { SERVICE_NAMES } from '../../src/composition/services.ts';
import { loadConfig } from '../../src/platform/config/index.ts';
import { createTestDatabase } from '../support/db.ts';
import { TEST_SECRET } from '../support/platform.ts';

test("the platform's development login mints with the checks of POST /v1/tokens: a staff token only for a restaurant the directory knows, and only for a loopback Host", async () => {
  const db = await createTestDatabase();
  const config = loadConfig({ DATABASE_URL: db.url, BRIGADE_SECRET: TEST_SECRET, DATABASE_POOL_SIZE: '4' }, { services: SERVICE_NAMES });
  // As `brigade start` on the embedded database, bound to loopback.
  const platform = await createPlatform(config, { url: db.url, embedded: null }, { logger: false, embedded: true });
  try {
    const mint = (payload: Record<string, unknown>, host = 'localhost:3000', headers: Record<string, string> = {}) => platform.app.inject({ method: 'POST', url: '/dev/tokens', headers: { host, ...headers }, payload });
    const admin = await mint({ role: 'admin' });
    assert.equal(admin.statusCode, 201, admin.body);
    const rid = (await platform.app.inject({ method: 'POST', url: '/v1/restaurants', headers: { authorization: `Bearer ${admin.json().token}` }, payload: { name: 'Dev Tasca', city: 'Porto' } })).json().id as string;

    const unknown = randomUUID();
    const nowhere = await mint({ role: 'staff', restaurantId: unknown });
    assert.deepEqual([nowhere.statusCode, nowhere.json().code], [404, 'NOT_FOUND'], nowhere.body);
    assert.match(nowhere.json().detail, new RegExp(`restaurant ${unknown} not found: .*brigade tenants add NAME --city CITY, or POST /v1/restaurants`));
    const staff = await mint({ role: 'staff', restaurantId: rid });
    assert.equal(staff.statusCode, 201, staff.body);
    const board = await platform.app.inject({ url: `/v1/restaurants/${rid}/board`, headers: { authorization: `Bearer ${staff.json().token}` } });
    assert.equal(board.statusCode, 200, board.body);

    const rebound = await mint({ role: 'admin' }, 'evil.example:3000');
    assert.deepEqual([rebound.statusCode, rebound.json().code], [403, 'DEV_LOGIN_HOST_REFUSED'], rebound.body);

    // A reverse proxy on this machine forwards outside traffic with a loopback Host (nginx's default
    // `Host: $proxy_host`); the forwarding headers it adds give it away.
    for (const [name, value] of [['x-forwarded-for', '203.0.113.7'], ['forwarded', 'for=203.0.113.7'], ['x-real-ip', '203.0.113.7'], ['x-forwarded-host', 'brigade.example']]) {
      const proxied = await mint({ role: 'admin' }, '127.0.0.1:3000', { [name as string]: value as string });
      assert.deepEqual([proxied.statusCode, proxied.json().code], [403, 'DEV_LOGIN_PROXIED'], `${name}: ${proxied.body}`);
      assert.match(proxied.json().detail, new RegExp(`${name}.*open the page on this machine`));
    }
  } finally {
    await platform.close();
    await db.drop();
  }
});
