import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import type { TestPlatform } from '../../support/platform.ts';

/** A restaurant with a menu made through the real HTTP API: a pizza with Size (1 of 2) and Extras (0–2 of 2), and a cola. */
export interface SeededRestaurant {
  readonly rid: string;
  readonly staff: string;
  readonly pizza: string;
  readonly cola: string;
  readonly small: string;
  readonly large: string;
  readonly olives: string;
  readonly basil: string;
}

/** Creates the restaurant and its menu; prices: pizza 1000, Small −200, Large +300, Olives +100, Basil +50, cola 250. */
export async function seedRestaurant(t: TestPlatform, name: string): Promise<SeededRestaurant> {
  const admin = await t.token('admin', { subject: 'ops' });
  const restaurant = await t.request({ method: 'POST', url: '/v1/restaurants', token: admin, payload: { name, city: 'Porto', currency: 'EUR' } });
  assert.equal(restaurant.statusCode, 201, restaurant.body);
  const rid = restaurant.json().id as string;
  const staff = await t.token('staff', { restaurantId: rid, subject: randomUUID() });
  const post = async (path: string, payload: unknown) => {
    const r = await t.request({ method: 'POST', url: `/v1/restaurants/${rid}/menu/${path}`, token: staff, payload: payload as Record<string, unknown> });
    assert.equal(r.statusCode, 201, r.body);
    return r.json();
  };
  const category = await post('categories', { name: 'Mains' });
  const pizza = await post('items', { categoryId: category.id, name: 'Margherita', price: 1000 });
  const cola = await post('items', { categoryId: category.id, name: 'Cola', price: 250 });
  const size = await post('modifier-groups', { itemId: pizza.id, name: 'Size', minChoices: 1, maxChoices: 1, modifiers: [{ name: 'Small', priceDelta: -200 }, { name: 'Large', priceDelta: 300 }] });
  const extras = await post('modifier-groups', { itemId: pizza.id, name: 'Extras', minChoices: 0, maxChoices: 2, modifiers: [{ name: 'Olives', priceDelta: 100 }, { name: 'Basil', priceDelta: 50 }] });
  const ids = (g: { modifiers: Array<{ id: string }> }) => g.modifiers.map((m) => m.id);
  const [small, large] = ids(size);
  const [olives, basil] = ids(extras);
  return { rid, staff, pizza: pizza.id, cola: cola.id, small: small!, large: large!, olives: olives!, basil: basil! };
}

/** A customer: id and token. */
export async function customer(t: TestPlatform) {
  const id = randomUUID();
  return { id, token: await t.token('customer', { subject: id }) };
}

/** A courier signed up in `city` (the seeded restaurants' Porto unless told) through the real HTTP API: id and token. */
export async function courier(t: TestPlatform, city = 'Porto') {
  const made = await t.request({ method: 'POST', url: '/v1/couriers', token: await t.token('admin', { subject: 'ops' }), payload: { name: 'Rita', city } });
  assert.equal(made.statusCode, 201, made.body);
  const id = made.json().id as string;
  return { id, token: await t.token('courier', { subject: id }) };
}

/** POST /v1/orders. */
export function placeOrder(t: TestPlatform, token: string, payload: unknown, key: string = randomUUID(), headers: Record<string, string> = {}) {
  return t.request({ method: 'POST', url: '/v1/orders', token, payload: payload as Record<string, unknown>, headers: { 'idempotency-key': key, ...headers } });
}

/** POST /v1/orders/:id/<command> with If-Match. */
export function command(t: TestPlatform, token: string, orderId: string, name: string, version: number | null, payload?: Record<string, unknown>) {
  return t.request({
    method: 'POST',
    url: `/v1/orders/${orderId}/${name}`,
    token,
    ...(payload === undefined ? {} : { payload }),
    headers: version === null ? {} : { 'if-match': `"${version}"` },
  });
}

/** Places an order of one cola of `r` for customer `c`, accepted and assigned to courier `k`: its id and position (at version 3). */
export async function assignedOrder(t: TestPlatform, r: SeededRestaurant, c: { token: string }, k: { id: string }): Promise<{ id: string; position: string }> {
  const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua 1, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
  assert.equal(placed.statusCode, 201, placed.body);
  const id = placed.json().id as string;
  assert.equal((await command(t, r.staff, id, 'accept', 1)).statusCode, 200);
  const assigned = await command(t, r.staff, id, 'assign-courier', 2, { courierId: k.id });
  assert.equal(assigned.statusCode, 200, assigned.body);
  return { id, position: assigned.json().position as string };
}

/** A table held in share mode by an open transaction (reads go on, inserts wait), see {@link holdTable}. */
export interface HeldTable {
  /**
   * Waits until `waiters` other sessions of the database wait on a lock; `false` as soon as `givenUp`
   * says to stop looking (the request it waits for answered without waiting).
   */
  waiters(waiters: number, givenUp?: () => boolean): Promise<boolean>;
  /** Commits the holding transaction (once; later calls do nothing) and closes its clients. */
  release(): Promise<void>;
}

/** Holds `lock table <table> in share mode` in an open transaction of a superuser client of the database at `url`. */
export async function holdTable(url: string, table: string): Promise<HeldTable> {
  const holder = new pg.Client({ connectionString: url });
  const watcher = new pg.Client({ connectionString: url });
  await holder.connect();
  await watcher.connect();
  await holder.query('begin');
  await holder.query(`lock table ${table} in share mode`);
  let released = false;
  return {
    async waiters(waiters, givenUp = () => false) {
      for (let i = 0; ; i++) {
        if (givenUp()) return false;
        const { rows } = await watcher.query<{ n: number }>(
          `select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`,
        );
        if (rows[0]!.n >= waiters) return true;
        if (i > 2000) throw new Error(`only ${rows[0]!.n} of ${waiters} sessions ever waited on a lock while ${table} was held`);
        await new Promise((r) => setTimeout(r, 5));
      }
    },
    async release() {
      if (released) return;
      released = true;
      await holder.query('commit').catch(() => undefined);
      await holder.end();
      await watcher.end();
    },
  };
}

/**
 * Holds `table` in share mode (see {@link holdTable}), runs `fire`, waits until `waiters` sessions of
 * the test database wait on a lock, then commits: the interleaving is forced, not hoped for.
 */
export async function withTableHeld<T>(t: TestPlatform, table: string, waiters: number, fire: () => Promise<T>): Promise<T> {
  const held = await holdTable(t.db.url, table);
  try {
    const pending = fire();
    await held.waiters(waiters);
    await held.release();
    return await pending;
  } finally {
    await held.release();
  }
}
