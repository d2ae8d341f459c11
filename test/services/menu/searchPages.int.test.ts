import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { migrationSets, MOVING_SCHEMAS } from '../../../src/composition/services.ts';
import { moveTenant } from '../../../src/platform/tenancy/index.ts';
import { adminQuery, createTestDatabase, urlFor, type TestDatabase } from '../../support/db.ts';
import { testEnv } from '../../support/env.ts';
import { within } from '../../support/eventually.ts';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';
import { silentProxy, type SilentProxy } from '../../support/silentProxy.ts';
import { seedSearchRestaurant } from './support.ts';

type Hit = { restaurantId: string; itemId: string; name: string; description: string; price: number; currency: string; soldOut: boolean; rank: number };
type Page = { hits: Hit[]; next: string | null; unavailable: number };

/** A restaurant of `city` with one category and the items given as [name, description]. */
const seed = (t: TestPlatform, name: string, city: string, items: ReadonlyArray<readonly [string, string]>) =>
  seedSearchRestaurant(t, name, city, items, { category: 'Mains', price: 900 });

const LOWEST_ID = '00000000-0000-4000-8000-000000000001';
const HIGHEST_ID = 'ffffffff-ffff-4fff-bfff-ffffffffffff';

/** An item of `rid`'s first category with an id of the test's choosing, written in `url` directly. */
async function insertItem(url: string, rid: string, id: string, name: string, description: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rowCount } = await client.query(
      `insert into menu.items (tenant_id, id, category_id, name, description, price)
       select tenant_id, $2, id, $3, $4, 900 from menu.categories where tenant_id = $1 limit 1`,
      [rid, id, name, description],
    );
    assert.equal(rowCount, 1);
  } finally {
    await client.end();
  }
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const unb64 = (text: string) => JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as unknown[];

/**
 * Decision 0021 ("Search, a page at a time"): keyset pages in the search's total order (rank, best
 * first; name by code point; item id), across the shared database and a restaurant's own (0008).
 */
describe('menu search, a page at a time', () => {
  let t: TestPlatform;
  /** The moved restaurant's own database: ICU 'en' by default, where 'Pizza b' sorts before 'Pizza B'. */
  let dedicated: { name: string; url: string; icu: boolean };
  const city = 'Braga';

  before(async () => {
    t = await startTestPlatform();
    const name = `brigade_t_${testEnv.runId}_${randomBytes(4).toString('hex')}`;
    // A database whose default collation is not C, where the server can make one: the search must
    // order and page in code-point order there too.
    const icu = (await adminQuery(`select exists (select 1 from pg_collation where collprovider = 'i') as icu`)).rows[0].icu as boolean;
    await adminQuery(`create database "${name}" template template0${icu ? ` locale_provider icu icu_locale 'en'` : ''}`);
    dedicated = { name, url: urlFor(name), icu };
    // Ranks for q=pizza ('simple' dictionary, no weights): 3 occurrences > 2 > 1, whatever the words around.
    await seed(t, 'Forno A', city, [
      ['Pizza Trio', 'pizza pizza'],
      ['Margherita', 'pizza'],
      ['Margherita', 'pizza'],
      ['Pizza Ａ', ''],
      ['Caesar salad', 'lettuce'],
    ]);
    const shared = await seed(t, 'Forno B', city, [
      ['Calzone', 'pizza pizza'],
      ['Margherita', 'pizza'],
    ]);
    const moved = await seed(t, 'Forno C', city, [
      ['Diavola', 'pizza pizza'],
      ['Margherita', 'pizza'],
      ['Pizza 🍕', ''],
      ['Pizza b', ''],
      ['Pizza B', ''],
    ]);
    await moveTenant({ tenantId: moved, sourceUrl: t.db.url, targetUrl: dedicated.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
    // Two more of the tie, with the lowest item id in the moved restaurant's database and the highest in
    // the shared one: merged, the tie must go by item id, not by the database a hit came from.
    await insertItem(dedicated.url, moved, LOWEST_ID, 'Margherita', 'pizza');
    await insertItem(t.db.url, shared, HIGHEST_ID, 'Margherita', 'pizza');
  });
  after(async () => {
    await t?.close();
    if (dedicated !== undefined) await adminQuery(`drop database if exists "${dedicated.name}"`);
  });

  const search = (query: string) => t.request({ url: `/v1/menu/search?${query}` });
  const page = async (query: string): Promise<Page> => {
    const r = await search(query);
    assert.equal(r.statusCode, 200, r.body);
    return r.json() as Page;
  };
  /** Every page of `q` in `city`, `limit` at a time, following `next`. */
  const everyPage = async (limit: number, q = 'pizza', where = city) => {
    const pages: Page[] = [];
    let before: string | null = null;
    do {
      const p: Page = await page(`q=${q}&city=${where}&limit=${limit}${before === null ? '' : `&before=${encodeURIComponent(before)}`}`);
      pages.push(p);
      before = p.next;
      assert.ok(pages.length <= 20, 'the pages end');
    } while (before !== null);
    return pages;
  };

  test('one page holds every hit in the total order: rank, then name by code point (past U+FFFF too), then item id, across databases', async () => {
    const { rows } = await adminQuery(`select datlocprovider from pg_database where datname = $1`, [dedicated.name]);
    assert.equal(rows[0].datlocprovider, dedicated.icu ? 'i' : 'c', 'the moved restaurant reads a database of its own');
    const one = await page(`q=pizza&city=${city}`);
    assert.equal(one.next, null, 'nothing after the only page');
    const names = one.hits.map((h) => h.name);
    assert.deepEqual(names, ['Pizza Trio', 'Calzone', 'Diavola', 'Margherita', 'Margherita', 'Margherita', 'Margherita', 'Margherita', 'Margherita', 'Pizza B', 'Pizza b', 'Pizza Ａ', 'Pizza 🍕']);
    const margheritas = one.hits.filter((h) => h.name === 'Margherita');
    assert.deepEqual(new Set(margheritas.map((h) => h.restaurantId)).size, 3, 'the tie spans both databases');
    assert.deepEqual(margheritas.map((h) => h.itemId), margheritas.map((h) => h.itemId).sort(), 'a tie on rank and name goes by item id');
    assert.deepEqual([margheritas[0]!.itemId, margheritas.at(-1)!.itemId], [LOWEST_ID, HIGHEST_ID]);
    assert.deepEqual(new Set(margheritas.map((h) => h.rank)).size, 1);
    assert.ok(one.hits[0]!.rank > one.hits[1]!.rank && one.hits[1]!.rank === one.hits[2]!.rank && one.hits[2]!.rank > one.hits[3]!.rank);
    assert.deepEqual(Object.keys(one.hits[0]!).sort(), ['currency', 'description', 'itemId', 'name', 'price', 'rank', 'restaurantId', 'soldOut'], 'a hit carries nothing of the cursor');
  });

  test('paging with every limit yields every hit exactly once, in the order of the one big page; ties in rank and name fall on page boundaries', async () => {
    const all = (await page(`q=pizza&city=${city}`)).hits;
    assert.equal(all.length, 13);
    for (let limit = 1; limit <= all.length + 1; limit++) {
      const pages = await everyPage(limit);
      assert.deepEqual(
        pages.flatMap((p) => p.hits.map((h) => h.itemId)),
        all.map((h) => h.itemId),
        `limit ${limit}: the pages, joined, are the one big page`,
      );
      assert.equal(pages.length, Math.ceil(all.length / limit), `limit ${limit}: no empty page at the end (one more hit was read to know)`);
      assert.ok(pages.every((p) => p.hits.length === limit || p === pages.at(-1)), `limit ${limit}: every page but the last is full`);
    }
    // Every boundary inside the tie of six 'Margherita' (rank and name, both databases) is cut by some
    // limit above, and so is 'Pizza B' | 'Pizza b' (limit 10), which the moved restaurant's database
    // orders the other way by its default collation.
  });

  test('a hit added between two pages before the cursor does not push a hit of the first page onto the second', async () => {
    const where = 'Viseu';
    const rid = await seed(t, 'Forno D', where, [
      ['Margherita', 'pizza'],
      ['Margherita', 'pizza'],
      ['Margherita', 'pizza'],
      ['Margherita', 'pizza'],
    ]);
    const first = await page(`q=pizza&city=${where}&limit=2`);
    assert.ok(first.next !== null);
    const staff = await t.token('staff', { restaurantId: rid });
    const categoryId = ((await t.request({ url: `/v1/restaurants/${rid}/menu` })).json().categories as Array<{ id: string }>)[0]!.id;
    const added = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/items`, token: staff, payload: { categoryId, name: 'Quattro', description: 'pizza pizza pizza', price: 900 } });
    assert.equal(added.statusCode, 201, added.body);
    const second = await page(`q=pizza&city=${where}&limit=2&before=${first.next}`);
    const all = (await page(`q=pizza&city=${where}`)).hits.map((h) => h.itemId);
    assert.equal(all[0], added.json().id, 'the new hit ranks first');
    assert.deepEqual([...first.hits, ...second.hits].map((h) => h.itemId), all.slice(1), 'the two pages hold each older hit once');
    assert.equal(second.next, null);
  });

  test('a cursor that is not one of this search is a 400 naming `before`, not a 500', async () => {
    const { next } = await page(`q=pizza&city=${city}&limit=2`);
    assert.ok(next !== null);
    const [kind, scope, rank, name, itemId] = unb64(next);
    assert.deepEqual([kind, typeof scope, typeof rank, name, typeof itemId], ['search', 'string', 'string', 'Calzone', 'string']);
    // An upper-case item id is the same position.
    const upper = await page(`q=pizza&city=${city}&limit=2&before=${b64([kind, scope, rank, name, String(itemId).toUpperCase()])}`);
    assert.deepEqual(upper, await page(`q=pizza&city=${city}&limit=2&before=${next}`));
    const orderCursor = b64(['2025-01-01T12:00:00.123456+00:00', randomUUID()]);
    const bad: Array<[string, string]> = [
      ['not base64url JSON', 'not-a-cursor'],
      ['JSON, not an array', b64({ rank, name, itemId })],
      ["the order history's cursor", orderCursor],
      ['one member too many', b64([kind, scope, rank, name, itemId, 1])],
      ['another kind', b64(['orders', scope, rank, name, itemId])],
      ['another search (scope)', b64([kind, 'AAAAAAAAAAAAAAAA', rank, name, itemId])],
      ['a rank past the range of real', b64([kind, scope, '1e39', name, itemId])],
      ['a rank below the range of real', b64([kind, scope, '1e-50', name, itemId])],
      ['a rank that is NaN', b64([kind, scope, 'NaN', name, itemId])],
      ['a negative rank', b64([kind, scope, '-1', name, itemId])],
      ['a rank as a number', b64([kind, scope, Number(rank), name, itemId])],
      ['a name with U+0000', b64([kind, scope, rank, 'Calzone\u0000', itemId])],
      ['half a surrogate pair', b64([kind, scope, rank, 'Calzone\ud83c', itemId])],
      ['an empty name', b64([kind, scope, rank, '', itemId])],
      ['a name longer than an item can have', b64([kind, scope, rank, 'x'.repeat(201), itemId])],
      ['an item id that is no uuid', b64([kind, scope, rank, name, "1'; drop table menu.items; --"])],
    ];
    for (const [what, cursor] of bad) {
      const r = await search(`q=pizza&city=${city}&limit=2&before=${encodeURIComponent(cursor)}`);
      assert.deepEqual([r.statusCode, r.json().code, r.json().field], [400, 'VALIDATION_FAILED', 'querystring.before'], `${what}: ${r.body}`);
      assert.match(r.json().detail, /not a page cursor of this search/, what);
    }
    // Another search's cursor: another q, another city.
    for (const query of [`q=margherita&city=${city}`, `q=pizza&city=Porto`]) {
      const r = await search(`${query}&before=${next}`);
      assert.deepEqual([r.statusCode, r.json().code, r.json().field], [400, 'VALIDATION_FAILED', 'querystring.before'], `${query}: ${r.body}`);
    }
    for (const limit of ['0', '51', 'x']) {
      const r = await search(`q=pizza&city=${city}&limit=${limit}`);
      assert.deepEqual([r.statusCode, r.json().code], [400, 'VALIDATION_FAILED'], `limit=${limit}: ${r.body}`);
    }
  });

  test('the city matches whatever its case, as the directory matches it when restaurants are made; a cursor carries over between cases', async () => {
    const all = await page(`q=pizza&city=${city}`);
    for (const spelled of [city.toLowerCase(), city.toUpperCase()]) {
      assert.deepEqual(await page(`q=pizza&city=${spelled}`), all, spelled);
    }
    const first = await page(`q=pizza&city=${city}&limit=2`);
    const second = await page(`q=pizza&city=${city.toLowerCase()}&limit=2&before=${encodeURIComponent(first.next!)}`);
    assert.deepEqual([...first.hits, ...second.hits].map((h) => h.itemId), all.hits.slice(0, 4).map((h) => h.itemId));
  });

  test('the OpenAPI document describes limit, before and next, and each hit\'s price with its currency', async () => {
    type Schema = { properties?: Record<string, Schema & { description?: string }>; items?: Schema; required?: string[] };
    const doc = (await t.request({ url: '/docs/json' })).json() as {
      paths: Record<string, { get: { parameters: Array<{ name: string; in: string }>; summary: string; responses: Record<string, { description: string; content?: Record<string, { schema: Schema }> }> } }>;
    };
    const op = doc.paths['/v1/menu/search']!.get;
    assert.deepEqual(op.parameters.filter((p) => p.in === 'query').map((p) => p.name).sort(), ['before', 'city', 'limit', 'q']);
    assert.match(op.responses['200']!.description, /`next`.*`before` of the next page/);
    const hit = op.responses['200']!.content?.['application/json']?.schema.properties?.['hits']?.items;
    assert.ok(hit?.required?.includes('currency'), 'currency is a required field of a hit');
    assert.match(hit?.properties?.['currency']?.description ?? '', /ISO 4217/);
    assert.match(hit?.properties?.['price']?.description ?? '', /minor units of `currency`/);
  });

  test("each hit carries its restaurant's currency (from a restaurant's own database too): equal prices in different currencies are told apart", async () => {
    const where = `Porto ${randomUUID().slice(0, 8)}`;
    const euros = await seedSearchRestaurant(t, 'Ramen EU', where, [['Ramen', 'noodles']], { category: 'Mains', price: 1200, currency: 'EUR' });
    const yen = await seedSearchRestaurant(t, 'Ramen JP', where, [['Ramen', 'noodles']], { category: 'Mains', price: 1200, currency: 'JPY' });
    const found = await page(`q=ramen&city=${encodeURIComponent(where)}`);
    assert.deepEqual(
      found.hits.map((h) => [h.restaurantId, h.price, h.currency]).sort(),
      [[euros, 1200, 'EUR'], [yen, 1200, 'JPY']].sort(),
    );
    // Braga's hits come from the shared database and from Forno C's own: every one in euros.
    const braga = await page(`q=pizza&city=${city}`);
    assert.ok(braga.hits.length > 0);
    assert.deepEqual([...new Set(braga.hits.map((h) => h.currency))], ['EUR']);
  });

});

/**
 * A restaurant's own database (decision 0008) that stops answering or refuses connections costs the
 * search that restaurant's hits only: each dedicated read is bounded (the router's `readTimeoutMs`, 2 s
 * by default), the restaurant is left out and counted in `unavailable`, and the other restaurants' hits
 * are answered. The shared database's own failure still fails the search.
 */
describe("menu search when a restaurant's own database does not answer", () => {
  let t: TestPlatform;
  const city = 'Probetown';
  /** Two dedicated databases, each behind a proxy: one goes silent, the other then refuses connections. */
  const dedicated: Array<{ db: TestDatabase; proxy: SilentProxy }> = [];
  let shared: string;
  let silent: string;
  let refusing: string;

  before(async () => {
    t = await startTestPlatform();
    for (let i = 0; i < 2; i++) {
      const db = await createTestDatabase({ empty: true });
      dedicated.push({ db, proxy: await silentProxy(db.url) });
    }
    shared = await seed(t, 'Forno Shared', city, [['Pizza margherita', 'tomato, mozzarella']]);
    silent = await seed(t, 'Forno Silent', city, [['Pizza diavola', 'salami']]);
    refusing = await seed(t, 'Forno Refusing', city, [['Pizza bianca', 'no tomato']]);
    // Each moved to its database through its proxy: the placement (and so the search) goes through it.
    for (const [rid, { proxy }] of [[silent, dedicated[0]!], [refusing, dedicated[1]!]] as const) {
      await moveTenant({ tenantId: rid, sourceUrl: t.db.url, targetUrl: proxy.url, sets: migrationSets(), schemas: MOVING_SCHEMAS });
    }
  });
  after(async () => {
    // The proxies first: a read still waiting on a silent one fails, and the platform's pools let go.
    for (const { proxy } of dedicated) await proxy.close();
    await t?.close();
    for (const { db } of dedicated) {
      const deadline = Date.now() + 30_000;
      while ((await adminQuery(`select 1 from pg_stat_activity where datname = $1`, [db.name])).rowCount !== 0 && Date.now() < deadline) await sleep(50);
      await db.drop();
    }
  });

  /** One search for pizza, bounded well past the dedicated reads' 2 s: a search that hangs fails here. */
  const pizza = async () => {
    const began = performance.now();
    const r = await within(t.request({ url: `/v1/menu/search?q=pizza&city=${city}` }), 20_000, 'the search to answer');
    return { status: r.statusCode, body: r.json() as Page & { code?: string }, ms: performance.now() - began, text: r.body };
  };
  const restaurantsOf = (page: Page) => new Set(page.hits.map((h) => h.restaurantId));

  test('every database up: every hit, unavailable 0', async () => {
    const { status, body, text } = await pizza();
    assert.equal(status, 200, text);
    assert.deepEqual(restaurantsOf(body), new Set([shared, silent, refusing]));
    assert.equal(body.unavailable, 0);
  });

  test("a restaurant's database that goes silent: the others' hits within the bound, that restaurant counted in unavailable; again once its pool is full of hung reads", async () => {
    dedicated[0]!.proxy.silence();
    const one = await pizza();
    assert.equal(one.status, 200, one.text);
    assert.deepEqual(restaurantsOf(one.body), new Set([shared, refusing]), 'the shared restaurant and the other moved one');
    assert.equal(one.body.unavailable, 1);
    assert.equal(one.body.next, null);
    assert.ok(one.ms < 10_000, `answered after ${Math.round(one.ms)} ms`);
    // Each search leaves one read hanging on the silent database (its pool holds 8): more searches than
    // that at once, then one more, still answer the others' hits, not 503 DATABASE_BUSY.
    const many = await Promise.all(Array.from({ length: 10 }, () => pizza()));
    many.push(await pizza());
    for (const answer of many) {
      assert.equal(answer.status, 200, answer.text);
      assert.deepEqual([restaurantsOf(answer.body), answer.body.unavailable], [new Set([shared, refusing]), 1]);
      assert.ok(answer.ms < 10_000, `answered after ${Math.round(answer.ms)} ms`);
    }
  });

  test("a restaurant's database that refuses connections: the others' hits, not 503", async () => {
    await dedicated[1]!.proxy.close();
    const { status, body, text } = await pizza();
    assert.equal(status, 200, text);
    assert.deepEqual(restaurantsOf(body), new Set([shared]));
    assert.equal(body.unavailable, 2, 'the silent one and the refusing one');
  });

  test("the shared database's own failure still fails the search: no page of the dedicated hits alone", async () => {
    // The shared database's search fails (its text search configuration gone); the directory still answers.
    await adminQueryOn(t.db.url, 'alter text search configuration menu.search_simple rename to search_simple_away');
    try {
      const { status, body, text } = await pizza();
      assert.deepEqual([status, body.code, body.hits], [500, 'INTERNAL', undefined], text);
    } finally {
      await adminQueryOn(t.db.url, 'alter text search configuration menu.search_simple_away rename to search_simple');
    }
  });

  test('the OpenAPI document describes unavailable', async () => {
    const doc = (await t.request({ url: '/docs/json' })).json() as {
      paths: Record<string, { get: { responses: Record<string, { description: string; content?: Record<string, { schema: { properties?: Record<string, { description?: string }> } }> }> } }>;
    };
    const ok = doc.paths['/v1/menu/search']!.get.responses['200']!;
    const properties = ok.content?.['application/json']?.schema.properties ?? {};
    assert.deepEqual(Object.keys(properties).sort(), ['hits', 'next', 'unavailable']);
    assert.match(properties['unavailable']?.description ?? '', /could not be searched/);
    assert.match(ok.description, /`unavailable`/);
  });
});

/** Runs one statement as a superuser on the database at `url`. */
async function adminQueryOn(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}
