import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { adminQuery, urlFor } from '../../support/db.ts';
import { testEnv } from '../../support/env.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { seedRestaurant, type SeededRestaurant } from '../ordering/support.ts';

/** What the directory says of a restaurant's new orders (decision 0094, fixed later). */
interface Listed {
  id: string;
  name: string;
  takingOrders: boolean | null;
  pause: { reason: string | null; until: string | null; since: string } | null;
}

const inHours = (hours: number) => new Date(Date.now() + hours * 3_600_000).toISOString();

/**
 * Decision 0094, "Fixed later (forty-ninth session)": the restaurant directory (`GET /v1/restaurants`
 * and `GET /v1/restaurants/{rid}`) says whether each restaurant takes new orders now, asked of the
 * menu service through the platform's `OrderTaking` port, so that a customer app browsing restaurants
 * greys out the paused ones without reading every menu. A pause whose `until` has passed is over; a
 * moved restaurant's pause is read in its own database.
 */
describe('the restaurant directory says which restaurants take new orders', () => {
  let t: TestPlatform;
  let sql: pg.Client;
  let dedicated: { name: string; url: string } | undefined;
  const r: Record<'open' | 'closed' | 'forTwoHours' | 'reopened' | 'moved', SeededRestaurant> = {} as never;

  const pause = (x: SeededRestaurant, payload: Record<string, unknown>) => t.request({ method: 'PUT', url: `/v1/restaurants/${x.rid}/order-pause`, token: x.staff, payload });
  const resume = (x: SeededRestaurant) => t.request({ method: 'DELETE', url: `/v1/restaurants/${x.rid}/order-pause`, token: x.staff });
  const listing = async (): Promise<Map<string, Listed>> => {
    const listed = await t.request({ url: '/v1/restaurants?city=Porto' });
    assert.equal(listed.statusCode, 200, listed.body);
    return new Map((listed.json().restaurants as Listed[]).map((x) => [x.id, x]));
  };
  const one = async (x: SeededRestaurant): Promise<Listed> => {
    const got = await t.request({ url: `/v1/restaurants/${x.rid}` });
    assert.equal(got.statusCode, 200, got.body);
    return got.json() as Listed;
  };

  before(async () => {
    t = await startTestPlatform();
    sql = new pg.Client({ connectionString: t.db.url });
    await sql.connect();
    for (const key of ['open', 'closed', 'forTwoHours', 'reopened', 'moved'] as const) r[key] = await seedRestaurant(t, `${key} ${randomUUID().slice(0, 8)}`);
    assert.equal((await pause(r.closed, { reason: 'Kitchen closed early' })).statusCode, 200);
    assert.equal((await pause(r.forTwoHours, { until: inHours(2) })).statusCode, 200);
    assert.equal((await pause(r.reopened, { reason: 'Short of staff', until: inHours(1) })).statusCode, 200);
    // Its hour has passed (the database's clock): over, though nobody resumed.
    await sql.query(`update menu.order_pauses set until = now() - interval '1 second' where tenant_id = $1`, [r.reopened.rid]);
    // Paused, then moved to a database of its own: the pause moves with its menu, and is read there.
    assert.equal((await pause(r.moved, { reason: 'Moving house' })).statusCode, 200);
    const name = `brigade_t_${testEnv.runId}_${randomBytes(4).toString('hex')}`;
    await adminQuery(`create database "${name}"`);
    dedicated = { name, url: urlFor(name) };
    await moveTenant({ tenantId: r.moved.rid, sourceUrl: t.db.url, targetUrl: dedicated.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
  });
  after(async () => {
    await sql?.end();
    await t?.close();
    if (dedicated !== undefined) await adminQuery(`drop database if exists "${dedicated.name}"`);
  });

  test('GET /v1/restaurants: takingOrders and the pause in force (reason, until, since) of each restaurant, a moved one read where it lives', async () => {
    const listed = await listing();
    assert.deepEqual([listed.get(r.open.rid)?.takingOrders, listed.get(r.open.rid)?.pause], [true, null]);
    const closed = listed.get(r.closed.rid)!;
    assert.equal(closed.takingOrders, false);
    assert.deepEqual({ ...closed.pause, since: null }, { reason: 'Kitchen closed early', until: null, since: null });
    assert.ok(!Number.isNaN(Date.parse(closed.pause!.since)));
    const forTwoHours = listed.get(r.forTwoHours.rid)!;
    assert.equal(forTwoHours.takingOrders, false);
    assert.ok(Math.abs(Date.parse(forTwoHours.pause!.until!) - (Date.now() + 2 * 3_600_000)) < 60_000, forTwoHours.pause!.until!);
    assert.deepEqual([listed.get(r.reopened.rid)?.takingOrders, listed.get(r.reopened.rid)?.pause], [true, null], 'a pause whose until has passed is over');
    const moved = listed.get(r.moved.rid)!;
    assert.equal(moved.takingOrders, false, 'the moved restaurant: its pause is in its own database');
    assert.equal(moved.pause?.reason, 'Moving house');
  });

  test('GET /v1/restaurants/{rid} says the same, without a token; a resume shows at once in both', async () => {
    assert.deepEqual([(await one(r.open)).takingOrders, (await one(r.open)).pause], [true, null]);
    assert.equal((await one(r.closed)).takingOrders, false);
    assert.equal((await one(r.closed)).pause?.reason, 'Kitchen closed early');
    assert.equal((await one(r.reopened)).takingOrders, true);
    assert.equal((await one(r.moved)).takingOrders, false);
    for (const x of [r.closed, r.moved]) assert.equal((await resume(x)).statusCode, 200);
    const listed = await listing();
    for (const x of [r.closed, r.moved]) {
      assert.deepEqual([listed.get(x.rid)?.takingOrders, listed.get(x.rid)?.pause], [true, null]);
      assert.deepEqual([(await one(x)).takingOrders, (await one(x)).pause], [true, null]);
    }
  });

  // Last: it takes the moved restaurant's database away.
  test("a restaurant whose own database does not answer is takingOrders null; the directory still answers, the others' state whole", async () => {
    assert.equal((await pause(r.closed, { reason: 'Closed again' })).statusCode, 200);
    await adminQuery(`drop database "${dedicated!.name}" with (force)`);
    const listed = await listing();
    assert.deepEqual([listed.get(r.moved.rid)?.takingOrders, listed.get(r.moved.rid)?.pause], [null, null]);
    assert.equal(listed.get(r.closed.rid)?.takingOrders, false);
    assert.equal(listed.get(r.closed.rid)?.pause?.reason, 'Closed again');
    assert.equal(listed.get(r.open.rid)?.takingOrders, true);
    assert.equal((await one(r.moved)).takingOrders, null);
  });

  test('the OpenAPI document describes takingOrders and pause for both reads', async () => {
    const doc = (await t.request({ url: '/docs/json' })).json() as {
      paths: Record<string, { get: { responses: Record<string, { content: Record<string, { schema: { properties: Record<string, { properties?: Record<string, unknown>; items?: { properties: Record<string, unknown> } }> } }> }> } }>;
    };
    const listed = doc.paths['/v1/restaurants']!.get.responses['200']!.content['application/json']!.schema.properties.restaurants!.items!.properties;
    const single = doc.paths['/v1/restaurants/{rid}']!.get.responses['200']!.content['application/json']!.schema.properties;
    for (const properties of [listed, single]) {
      assert.ok('takingOrders' in properties, 'takingOrders is documented');
      assert.ok('pause' in properties, 'pause is documented');
    }
  });
});
