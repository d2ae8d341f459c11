import assert from 'node:assert/strict';
import type { TestPlatform } from '../../support/platform.ts';

/**
 * A restaurant of `city` made through the API (in `currency`, EUR by default), with one category
 * (`category`) and the items given as [name, description], each at `price` minor units; answers the
 * restaurant's id. For the search tests.
 */
export async function seedSearchRestaurant(
  t: TestPlatform,
  name: string,
  city: string,
  items: ReadonlyArray<readonly [string, string]>,
  options: { readonly category: string; readonly price: number; readonly currency?: string },
): Promise<string> {
  const admin = await t.token('admin', { subject: 'ops' });
  const created = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city, currency: options.currency ?? 'EUR' } });
  assert.equal(created.statusCode, 201, created.body);
  const rid = created.json().id as string;
  const staff = await t.token('staff', { restaurantId: rid });
  const category = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/categories`, token: staff, payload: { name: options.category, position: 1 } });
  assert.equal(category.statusCode, 201, category.body);
  for (const [itemName, description] of items) {
    const item = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/items`, token: staff, payload: { categoryId: category.json().id, name: itemName, description, price: options.price } });
    assert.equal(item.statusCode, 201, item.body);
  }
  return rid;
}
