import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestPlatform, type TestPlatform } from '../../support/platform.ts';

// The delivery service pairs couriers with orders by their city's name: a second spelling of a city
// was a second city, whose couriers no order was ever offered to.
describe('cities: one city whatever the case of its name', () => {
  let t: TestPlatform;
  let admin: string;

  before(async () => {
    t = await startTestPlatform();
    admin = await t.token('admin', { subject: 'ops' });
  });
  after(async () => {
    await t.close();
  });

  test('a courier or a restaurant named in another case joins the city as first spelled, and the directory finds it by any case', async () => {
    const city = `Lisbon-${randomUUID().slice(0, 8)}`;
    const restaurant = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Tasca', city } });
    assert.equal(restaurant.statusCode, 201, restaurant.body);

    const courier = await t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name: 'Rui', city: city.toLowerCase() } });
    assert.equal(courier.statusCode, 201, courier.body);
    assert.deepEqual([courier.json().cityId, courier.json().city], [restaurant.json().cityId, city]);

    const second = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Adega', city: city.toUpperCase() } });
    assert.equal(second.statusCode, 201, second.body);
    assert.deepEqual([second.json().cityId, second.json().city], [restaurant.json().cityId, city]);

    const listed = await t.request({ url: `/v1/restaurants?city=${encodeURIComponent(city.toLowerCase())}` });
    assert.equal(listed.statusCode, 200, listed.body);
    const names = (listed.json() as { restaurants?: Array<{ name: string }> }).restaurants ?? (listed.json() as Array<{ name: string }>);
    assert.deepEqual(names.map((r) => r.name).sort(), ['Adega', 'Tasca']);
  });

  // Found by a review: the list stopped at 500 rows without a word (no paging; ?limit= and ?after= were refused).
  test('GET /v1/restaurants is read a page at a time: ?limit= and the `next` cursor, null on the last page; a cursor of another city or none is a 400', async () => {
    const city = `Braga-${randomUUID().slice(0, 8)}`;
    for (const name of ['Cc', 'Aa', 'Bb']) assert.equal((await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city } })).statusCode, 201);
    const page = async (query: string) => t.request({ url: `/v1/restaurants?city=${encodeURIComponent(city)}&${query}` });
    const first = await page('limit=2');
    assert.equal(first.statusCode, 200, first.body);
    assert.deepEqual(first.json().restaurants.map((r: { name: string }) => r.name), ['Aa', 'Bb']);
    assert.equal(typeof first.json().next, 'string');
    const second = await page(`limit=2&after=${encodeURIComponent(first.json().next)}`);
    assert.deepEqual([second.json().restaurants.map((r: { name: string }) => r.name), second.json().next], [['Cc'], null]);
    assert.equal((await page('')).json().next, null, 'all of them on one page: no next');
    for (const query of ['after=nonsense', `after=${encodeURIComponent(first.json().next)}&x=1`, 'limit=0', 'limit=501']) {
      const bad = await page(query);
      assert.equal(bad.statusCode, 400, `${query}: ${bad.body}`);
    }
    const elsewhere = await t.request({ url: `/v1/restaurants?city=Elsewhere&after=${encodeURIComponent(first.json().next)}` });
    assert.deepEqual([elsewhere.statusCode, elsewhere.json().field], [400, 'querystring.after'], elsewhere.body);
  });

  // Found in the forty-eighth session's walkthrough: the board could name its restaurant by id only,
  // as no route read one restaurant (the list is by city).
  test('GET /v1/restaurants/{rid} reads one restaurant, publicly as the list does; an unknown id is a 404 that says so, a malformed one a 400', async () => {
    const city = `Faro-${randomUUID().slice(0, 8)}`;
    const created = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Marisqueira', city, pickupAddress: 'Rua do Cais 3' } });
    assert.equal(created.statusCode, 201, created.body);
    const read = await t.request({ url: `/v1/restaurants/${created.json().id}` });
    assert.equal(read.statusCode, 200, read.body);
    // As made, and whether it takes new orders now (decision 0094, fixed later): a new one does.
    assert.deepEqual(read.json(), { ...created.json(), takingOrders: true, pause: null });
    const asStaffOfAnother = await t.request({ url: `/v1/restaurants/${created.json().id}`, token: await t.token('staff', { restaurantId: randomUUID(), subject: randomUUID() }) });
    assert.deepEqual([asStaffOfAnother.statusCode, asStaffOfAnother.json().name], [200, 'Marisqueira'], 'public: a token of another restaurant reads it as anyone does');
    const unknown = randomUUID();
    const missing = await t.request({ url: `/v1/restaurants/${unknown}` });
    assert.deepEqual([missing.statusCode, missing.json().code], [404, 'NOT_FOUND'], missing.body);
    assert.match(missing.json().detail, new RegExp(unknown));
    assert.equal((await t.request({ url: '/v1/restaurants/not-an-id' })).statusCode, 400);
  });

  // Found in the forty-seventh session: a name in decomposed form (E + U+0301, as some keyboards and
  // copied text give it) was a second city beside the composed one, though it reads the same.
  test('a city named in decomposed Unicode (NFD) is the city named in composed form (NFC), and the directory finds it either way', async () => {
    const composed = `Évora-${randomUUID().slice(0, 8)}`;
    const decomposed = composed.normalize('NFD');
    assert.notEqual(decomposed, composed);
    const restaurant = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Tasca', city: decomposed } });
    assert.equal(restaurant.statusCode, 201, restaurant.body);
    assert.equal(restaurant.json().city, composed, 'kept in composed form');
    const courier = await t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name: 'Rui', city: composed.toLowerCase() } });
    assert.deepEqual([courier.statusCode, courier.json().cityId], [201, restaurant.json().cityId], courier.body);
    const again = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Adega', city: decomposed.toUpperCase() } });
    assert.deepEqual([again.statusCode, again.json().cityId], [201, restaurant.json().cityId], again.body);

    for (const city of [composed, decomposed, decomposed.toLowerCase()]) {
      const first = await t.request({ url: `/v1/restaurants?city=${encodeURIComponent(city)}&limit=1` });
      assert.equal(first.statusCode, 200, first.body);
      assert.deepEqual(first.json().restaurants.map((r: { name: string }) => r.name), ['Adega'], city);
      // The cursor of one spelling reads on with another.
      const other = city === composed ? decomposed : composed;
      const second = await t.request({ url: `/v1/restaurants?city=${encodeURIComponent(other)}&limit=1&after=${encodeURIComponent(first.json().next)}` });
      assert.equal(second.statusCode, 200, second.body);
      assert.deepEqual(second.json().restaurants.map((r: { name: string }) => r.name), ['Tasca'], city);
    }
  });

  // Found by a review of the CLI (forty-eighth session): cities were taken in composed form, restaurant
  // names were not, so "Café" typed composed and decomposed were two restaurants of one city.
  test("a restaurant's name is taken in composed form (NFC): one restaurant whatever the form, and the 409 says where to find it", async () => {
    const city = `Évora ${randomUUID().slice(0, 8)}`;
    const first = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name: 'Café Crème'.normalize('NFD'), city } });
    assert.equal(first.statusCode, 201, first.body);
    assert.equal(first.json().name, 'Café Crème'.normalize('NFC'), 'kept in composed form');
    for (const name of ['Café Crème'.normalize('NFC'), 'Café Crème'.normalize('NFD')]) {
      const again = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city: city.toLowerCase() } });
      assert.deepEqual([again.statusCode, again.json().code, again.json().field], [409, 'ALREADY_EXISTS', 'body.name'], again.body);
      assert.equal(
        again.json().detail,
        `A restaurant named Café Crème in ${city} already exists: brigade tenants list --city '${city}' (or GET /v1/restaurants?city=${encodeURIComponent(city)}) shows its id`,
        'the city as the directory spells it, and how to find the one that exists',
      );
    }
    const listed = await t.request({ url: `/v1/restaurants?city=${encodeURIComponent(city)}` });
    assert.deepEqual(listed.json().restaurants.map((r: { id: string }) => r.id), [first.json().id]);
    // What a decoder leaves of bytes that were not UTF-8, and a zero-width space inside a name: refused, as a name's rule says.
    for (const name of ['Caf\ufffd', 'Zero\u200bWidth']) {
      const bad = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city } });
      assert.deepEqual([bad.statusCode, bad.json().field], [400, 'body.name'], bad.body);
    }
  });

  test('first uses of one new city in two cases at once make one city', async () => {
    const city = `Porto-${randomUUID().slice(0, 8)}`;
    const made = await Promise.all(
      [city, city.toLowerCase(), city.toUpperCase(), city].map((name, i) => t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name: `C${i}`, city: name } })),
    );
    for (const response of made) assert.equal(response.statusCode, 201, response.body);
    assert.equal(new Set(made.map((r) => r.json().cityId)).size, 1);
  });
});
