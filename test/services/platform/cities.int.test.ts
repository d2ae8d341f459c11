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

  test('first uses of one new city in two cases at once make one city', async () => {
    const city = `Porto-${randomUUID().slice(0, 8)}`;
    const made = await Promise.all(
      [city, city.toLowerCase(), city.toUpperCase(), city].map((name, i) => t.request({ method: 'POST', url: '/v1/couriers', token: admin, payload: { name: `C${i}`, city: name } })),
    );
    for (const response of made) assert.equal(response.statusCode, 201, response.body);
    assert.equal(new Set(made.map((r) => r.json().cityId)).size, 1);
  });
});
