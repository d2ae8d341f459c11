import { randomUUID } from 'node:crypto';
import type { TokenService } from '../../platform/auth/index.ts';

/** The size and pace of a rush. */
export interface RushOptions {
  readonly restaurants: number;
  readonly couriers: number;
  readonly orders: number;
  /** New orders per second. */
  readonly rate: number;
  /** Share of orders the customer cancels before the restaurant accepts. */
  readonly cancelShare: number;
}

/** What a rush measured. */
export interface RushSummary {
  readonly seconds: number;
  readonly delivered: number;
  readonly cancelled: number;
  readonly failed: number;
  readonly latencies: ReadonlyMap<string, readonly number[]>;
  readonly conflicts: number;
  readonly cacheHits: number;
  readonly cacheReads: number;
  readonly deadLetters: number;
  readonly restaurantIds: readonly string[];
}

interface Restaurant {
  readonly id: string;
  readonly staff: string;
  readonly items: readonly string[];
}

/**
 * A dinner rush through the real HTTP API of a running platform at `base`: a city with restaurants
 * and menus, couriers who mark themselves available, customers who read menus and order; restaurants
 * accept, prepare and mark ready; the delivery service dispatches couriers, who pick up and deliver.
 * Some customers cancel before the restaurant accepts. Every call is timed per command.
 */
export async function runDinnerRush(
  base: string,
  tokens: TokenService,
  options: RushOptions,
  hooks: { onSetup?(line: string): void; onProgress?(done: number, total: number, perSecond: number): void } = {},
): Promise<RushSummary> {
  const latencies = new Map<string, number[]>();
  let conflicts = 0;
  let cacheHits = 0;
  let cacheReads = 0;
  const call = async (name: string, method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}) => {
    const started = performance.now();
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const list = latencies.get(name) ?? [];
    list.push(performance.now() - started);
    latencies.set(name, list);
    if (response.status === 412) conflicts++;
    return { status: response.status, headers: response.headers, json: text === '' ? null : (JSON.parse(text) as Record<string, unknown>) };
  };
  const must = async (...args: Parameters<typeof call>) => {
    const r = await call(...args);
    if (r.status >= 300) throw new Error(`${args[1]} ${args[2]} answered ${r.status}: ${JSON.stringify(r.json)}`);
    return r.json as Record<string, unknown>;
  };

  const city = `Demo City ${randomUUID().slice(0, 4)}`;
  const admin = await tokens.sign({ role: 'admin', subject: 'demo' });
  const restaurants: Restaurant[] = [];
  for (let i = 0; i < options.restaurants; i++) {
    const r = await must('setup', 'POST', '/v1/restaurants', admin, { name: `Trattoria ${i + 1}`, city });
    const id = r.id as string;
    const staff = await tokens.sign({ role: 'staff', restaurantId: id, subject: randomUUID() });
    const category = await must('setup', 'POST', `/v1/restaurants/${id}/menu/categories`, staff, { name: 'Pizza' });
    const items: string[] = [];
    for (const [name, price] of [['Margherita', 900], ['Diavola', 1150], ['Quattro formaggi', 1250], ['Tiramisu', 550]] as const) {
      items.push((await must('setup', 'POST', `/v1/restaurants/${id}/menu/items`, staff, { categoryId: category.id, name, price })).id as string);
    }
    restaurants.push({ id, staff, items });
  }
  hooks.onSetup?.(`created ${city} with ${restaurants.length} restaurants and their menus; watch them live:`);
  for (const r of restaurants) hooks.onSetup?.(`  ${base}/board/${r.id}   (sign in at ${base}/dev-login as staff of ${r.id})`);
  const courierTokens = new Map<string, string>();
  for (let i = 0; i < options.couriers; i++) {
    const c = await must('setup', 'POST', '/v1/couriers', admin, { name: `Courier ${i + 1}`, city });
    const token = await tokens.sign({ role: 'courier', subject: c.id as string });
    courierTokens.set(c.id as string, token);
    await must('availability', 'POST', '/v1/couriers/me/availability', token, { available: true });
  }
  hooks.onSetup?.(`${options.couriers} couriers are available in ${city}`);

  let delivered = 0;
  let cancelled = 0;
  let failed = 0;
  const started = performance.now();
  const progress = () => hooks.onProgress?.(delivered + cancelled + failed, options.orders, (delivered + cancelled) / ((performance.now() - started) / 1000));

  /** Runs one command, re-reading the version and retrying when another actor got there first (412). */
  const command = async (orderId: string, name: string, token: string, version: { v: number }, body: unknown = {}) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const r = await call(name, 'POST', `/v1/orders/${orderId}/${name}`, token, body, { 'if-match': `"${version.v}"` });
      if (r.status === 200) {
        version.v = r.json?.version as number;
        return;
      }
      if (r.status !== 412) throw new Error(`${name} answered ${r.status}: ${JSON.stringify(r.json)}`);
      version.v = (r.json?.currentVersion as number) ?? version.v;
    }
    throw new Error(`${name} kept conflicting`);
  };

  const oneOrder = async (n: number) => {
    const restaurant = restaurants[n % restaurants.length] as Restaurant;
    const customer = await must('sign-up', 'POST', '/v1/customers', null, { name: `Guest ${n}`, email: `guest-${randomUUID()}@demo.example`, address: `${n} Rua Augusta` });
    const menu = await call('read menu', 'GET', `/v1/restaurants/${restaurant.id}/menu`, null);
    cacheReads++;
    if (menu.headers.get('x-cache')?.startsWith('hit') === true) cacheHits++;
    const lines = [{ itemId: restaurant.items[n % 3] as string, quantity: 1 + (n % 2) }, { itemId: restaurant.items[3] as string, quantity: 1 }];
    const placed = await must('place', 'POST', '/v1/orders', customer.token as string, { restaurantId: restaurant.id, deliveryAddress: `${n} Rua Augusta`, lines }, { 'idempotency-key': randomUUID() });
    const orderId = placed.id as string;
    const version = { v: placed.version as number };
    if (Math.random() < options.cancelShare) {
      await command(orderId, 'cancel', customer.token as string, version, { reason: 'changed my mind' });
      cancelled++;
      return;
    }
    await command(orderId, 'accept', restaurant.staff, version, { etaMinutes: 15 });
    for (const line of placed.lines as Array<{ lineId: string }>) await command(orderId, 'mark-item-prepared', restaurant.staff, version, { lineId: line.lineId });
    await command(orderId, 'ready', restaurant.staff, version);
    // The delivery service's dispatch workers assign a courier; wait for it (bounded).
    let courierId: string | null = null;
    for (let i = 0; i < 600 && courierId === null; i++) {
      const order = await must('read order', 'GET', `/v1/orders/${orderId}`, restaurant.staff);
      courierId = (order.courierId as string | null) ?? null;
      version.v = order.version as number;
      if (courierId === null) await new Promise((r) => setTimeout(r, 100));
    }
    if (courierId === null) throw new Error(`order ${orderId} got no courier within 60 s`);
    const courier = courierTokens.get(courierId) as string;
    await command(orderId, 'pick-up', courier, version);
    await command(orderId, 'deliver', courier, version);
    delivered++;
  };

  const running: Promise<void>[] = [];
  for (let n = 0; n < options.orders; n++) {
    running.push(
      oneOrder(n)
        .catch((error: unknown) => {
          failed++;
          hooks.onSetup?.(`order ${n + 1} failed: ${error instanceof Error ? error.message : String(error)}`);
        })
        .finally(progress),
    );
    await new Promise((r) => setTimeout(r, 1000 / options.rate));
  }
  await Promise.all(running);
  const seconds = (performance.now() - started) / 1000;
  const dlq = await call('admin', 'GET', '/v1/admin/dead-letters', admin);
  return {
    seconds,
    delivered,
    cancelled,
    failed,
    latencies,
    conflicts,
    cacheHits,
    cacheReads,
    deadLetters: ((dlq.json?.deadLetters as unknown[]) ?? []).length,
    restaurantIds: restaurants.map((r) => r.id),
  };
}
