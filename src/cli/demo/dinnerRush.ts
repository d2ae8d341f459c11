import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TokenService } from '../../platform/auth/index.ts';
import { waitUntil } from './waitUntil.ts';

/** The size and pace of a rush. */
export interface RushOptions {
  readonly restaurants: number;
  readonly couriers: number;
  readonly orders: number;
  /** New orders per second (open loop). Ignored when {@link clients} is set. */
  readonly rate: number;
  /** Closed loop instead: this many customers order one after another, each waiting for their order to end. */
  readonly clients?: number;
  /** Share of orders the customer cancels before the restaurant accepts. */
  readonly cancelShare: number;
  /**
   * Share of customers whose card on file is the payment provider's declined card (at least one when
   * above 0): payments cancels their orders and charges nothing.
   */
  readonly declineShare: number;
  /**
   * The card the provider declines (`PROVIDER_DECLINE_CARD`), which the declining customers keep on
   * file; `null` when it declines none: then no customer's card is declined, whatever
   * {@link declineShare}, and the rush says so. Default `4000000000000002` (the stand-in's own).
   */
  readonly declineCard?: string | null;
  /** Whether the platform serves the development login (`/dev-login`: embedded database on loopback only, see offersDevLogin); the sign-in hint follows. */
  readonly devLogin?: boolean;
}

/** Where each order's payment ended, by the `payment` of `GET /v1/orders/:id/payment`. */
export type PaymentTally = Readonly<Record<string, number>>;

/** What a rush measured. */
export interface RushSummary {
  /** From the first order placed to the last order's payment settled. */
  readonly seconds: number;
  readonly delivered: number;
  /** Cancelled by the customer. */
  readonly cancelled: number;
  /** Cancelled by payments: the card on file was declined. */
  readonly declined: number;
  readonly failed: number;
  /** Orders whose payment saga finished (paid out, voided, or declined with nothing charged). */
  readonly settled: number;
  readonly payments: PaymentTally;
  /**
   * Milliseconds per command (HTTP round trip), by command name; in parentheses, the waits
   * ({@link WAITED_FOR_PAYMENT}, {@link WAITED_FOR_COURIER}) and each delivered order's whole way ({@link ORDER_TO_DELIVERY}).
   */
  readonly latencies: ReadonlyMap<string, readonly number[]>;
  readonly conflicts: number;
  readonly cacheHits: number;
  readonly cacheReads: number;
  /** Dead letters parked during the rush (those there before it are not counted; at most 100 are seen). */
  readonly deadLetters: number;
  readonly restaurantIds: readonly string[];
}

interface Restaurant {
  readonly id: string;
  readonly staff: string;
  readonly items: readonly string[];
}

/** Cards the stand-in approves (any valid number that is not the declined card). */
const GOOD_CARDS = ['4242424242424242', '5555555555554444', '378282246310005'];
const DECLINED_CARD = '4000000000000002';
const FINISHED_SAGA = new Set(['completed', 'compensated', 'failed', 'closed']);
/** A saga parked for a person (decision 0079) goes no further on its own: not waited for, not settled. */
const PARKED_SAGA = 'parked';
/** The latency entry of a whole delivered order, from the placing call to the courier's deliver. */
export const ORDER_TO_DELIVERY = '(placed → delivered)';
/** The wait from placement until the payment is authorized (or refused): the saga's charge, seen by the restaurant. */
export const WAITED_FOR_PAYMENT = '(wait: authorization)';
/** The wait from ready until a courier is assigned: the delivery service's dispatch, seen by the restaurant. */
export const WAITED_FOR_COURIER = '(wait: courier)';
/** After how long a payment still authorizing is said, once per rush (a provider that is down left the bar silent for minutes). */
const SLOW_PAYMENT_MS = 10_000;
/** How long the rush waits for one order's courier, and for all payments to settle at the end. */
const WAIT_MS = 120_000;

/** `count` indexes spread evenly over `0 … total - 1`. */
function spread(total: number, count: number): Set<number> {
  const picked = new Set<number>();
  for (let i = 0; i < count; i++) picked.add(Math.min(total - 1, Math.floor(((i + 0.5) * total) / count)));
  return picked;
}

/**
 * A dinner rush through the real HTTP API of a running platform at `base`: a city with restaurants
 * and menus, couriers who mark themselves available, customers who sign up, put a card on file, read
 * menus and order; restaurants accept, prepare and mark ready; the delivery service dispatches
 * couriers, who pick up and deliver; the payments saga charges each order at placement and captures
 * and pays out on delivery. Some customers cancel before the restaurant accepts (their authorization voided); a few
 * keep the provider's declined card on file (payments cancels their orders, nothing charged). Every
 * call is timed per command; at the end the rush waits for every payment to settle and tallies them.
 */
export async function runDinnerRush(
  base: string,
  tokens: TokenService,
  options: RushOptions,
  hooks: {
    onSetup?(line: string): void;
    /** Called (and awaited) once the city is set up, right before the first order: a benchmark takes its "before" readings here. */
    onStarted?(): void | Promise<void>;
    onProgress?(done: number, total: number, perSecond: number): void;
    /**
     * Once aborted (Ctrl+C), no new order is placed and the orders in flight end without a word and
     * without {@link onProgress}: the platform under them is closing, and one that fails is not counted as failed.
     */
    readonly signal?: AbortSignal;
  } = {},
): Promise<RushSummary> {
  const latencies = new Map<string, number[]>();
  let conflicts = 0;
  let cacheHits = 0;
  let cacheReads = 0;
  const record = (name: string, ms: number) => {
    const list = latencies.get(name) ?? [];
    list.push(ms);
    latencies.set(name, list);
  };
  const call = async (name: string, method: string, path: string, token: string | null, body?: unknown, headers: Record<string, string> = {}) => {
    const started = performance.now();
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { ...(token === null ? {} : { authorization: `Bearer ${token}` }), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    record(name, performance.now() - started);
    if (response.status === 412) conflicts++;
    return { status: response.status, headers: response.headers, json: text === '' ? null : (JSON.parse(text) as Record<string, unknown>) };
  };
  const must = async (...args: Parameters<typeof call>) => {
    const r = await call(...args);
    if (r.status >= 300) throw new Error(`${args[1]} ${args[2]} answered ${r.status}: ${JSON.stringify(r.json)}`);
    return r.json as Record<string, unknown>;
  };

  // Eight hex digits: cities are matched by name, and two runs sharing one would hand out each other's couriers.
  const city = `Demo City ${randomUUID().slice(0, 8)}`;
  const admin = await tokens.sign({ role: 'admin', subject: 'demo' });
  // The dead letters there before the rush are not its own: only those parked since are counted (by
  // the list's total: its first page held at most 100, so a count of ids stopped there).
  const deadLetterTotal = async () => Number((await must('admin', 'GET', '/v1/admin/dead-letters?limit=1', admin)).total);
  const deadBefore = await deadLetterTotal();
  const restaurants: Restaurant[] = [];
  for (let i = 0; i < options.restaurants; i++) {
    const r = await must('setup', 'POST', '/v1/restaurants', admin, { name: `Trattoria ${i + 1}`, city, pickupAddress: `${10 + i} Praça do Comércio` });
    const id = r.id as string;
    const staff = await tokens.sign({ role: 'staff', restaurantId: id, subject: randomUUID() });
    const category = await must('setup', 'POST', `/v1/restaurants/${id}/menu/categories`, staff, { name: 'Pizza' });
    const items: string[] = [];
    for (const [name, price] of [['Margherita', 900], ['Diavola', 1150], ['Quattro formaggi', 1250], ['Tiramisu', 550]] as const) {
      items.push((await must('setup', 'POST', `/v1/restaurants/${id}/menu/items`, staff, { categoryId: category.id, name, price })).id as string);
    }
    restaurants.push({ id, staff, items });
  }
  hooks.onSetup?.(`created ${city} with ${restaurants.length} ${restaurants.length === 1 ? 'restaurant and its menu' : 'restaurants and their menus'}; watch them live:`);
  for (const r of restaurants) {
    const signIn = options.devLogin === true ? `sign in at ${base}/dev-login as staff of ${r.id}` : `sign in with the token of: brigade token --role staff --restaurant ${r.id}`;
    hooks.onSetup?.(`  ${base}/board/${r.id}   (${signIn})`);
  }
  const courierTokens = new Map<string, string>();
  for (let i = 0; i < options.couriers; i++) {
    const c = await must('setup', 'POST', '/v1/couriers', admin, { name: `Courier ${i + 1}`, city });
    const token = await tokens.sign({ role: 'courier', subject: c.id as string });
    courierTokens.set(c.id as string, token);
    await must('availability', 'POST', '/v1/couriers/me/availability', token, { available: true });
  }
  hooks.onSetup?.(`${options.couriers} couriers are available in ${city}`);
  const declineCard = options.declineCard === undefined ? DECLINED_CARD : options.declineCard;
  const declining = options.declineShare > 0 && declineCard !== null ? spread(options.orders, Math.max(1, Math.round(options.orders * options.declineShare))) : new Set<number>();
  if (declining.size > 0) hooks.onSetup?.(`${declining.size} customer(s) keep a card on file that the payment provider declines`);
  else if (options.declineShare > 0) hooks.onSetup?.("the payment provider declines no card (PROVIDER_DECLINE_CARD=none): no customer's card is declined");

  let delivered = 0;
  let cancelled = 0;
  let declined = 0;
  let failed = 0;
  const placed: Array<{ orderId: string; token: string }> = [];
  await hooks.onStarted?.();
  const started = performance.now();
  const progress = () => hooks.onProgress?.(delivered + cancelled + declined + failed, options.orders, (delivered + cancelled + declined) / ((performance.now() - started) / 1000));

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

  let warnedSlowPayment = false;
  const oneOrder = async (n: number) => {
    const restaurant = restaurants[n % restaurants.length] as Restaurant;
    const customer = await must('sign-up', 'POST', '/v1/customers', null, { name: `Guest ${n}`, email: `guest-${randomUUID()}@demo.example`, address: `${n} Rua Augusta` });
    const card = declining.has(n) && declineCard !== null ? declineCard : (GOOD_CARDS[n % GOOD_CARDS.length] as string);
    await must('card on file', 'PUT', '/v1/customers/me/payment-method', customer.token as string, { cardNumber: card });
    const menu = await call('read menu', 'GET', `/v1/restaurants/${restaurant.id}/menu`, null);
    cacheReads++;
    if (menu.headers.get('x-cache')?.startsWith('hit') === true) cacheHits++;
    const lines = [{ itemId: restaurant.items[n % 3] as string, quantity: 1 + (n % 2) }, { itemId: restaurant.items[3] as string, quantity: 1 }];
    const placedAt = performance.now();
    const order = await must('place', 'POST', '/v1/orders', customer.token as string, { restaurantId: restaurant.id, deliveryAddress: `${n} Rua Augusta`, lines }, { 'idempotency-key': randomUUID() });
    const orderId = order.id as string;
    placed.push({ orderId, token: customer.token as string });
    const version = { v: order.version as number };
    try {
      if (!declining.has(n) && Math.random() < options.cancelShare) {
        await command(orderId, 'cancel', customer.token as string, version, { reason: 'changed my mind' });
        cancelled++;
        return;
      }
      // Restaurants cook what is paid for: wait until the payment is authorized (or refused).
      const waitedFrom = performance.now();
      // Said once per rush, of an answer still authorizing (or not started): not of the one that ended the wait.
      const slow = (answer: Awaited<ReturnType<typeof call>>) => {
        if (warnedSlowPayment) return;
        warnedSlowPayment = true;
        // No payment yet means the saga never started: the order's event has not reached the payments
        // service (the outbox relay or the bus), and the provider has not been asked anything.
        hooks.onSetup?.(
          answer.status === 200
            ? `order ${n + 1} has waited ${SLOW_PAYMENT_MS / 1000} s for its payment (${String(answer.json?.payment)}): is the payment provider up? (GET /v1/orders/${orderId}/payment; brigade sagas list --stuck)`
            : `order ${n + 1} has waited ${SLOW_PAYMENT_MS / 1000} s and its payment has not started: the order's event has not reached the payments service; is the outbox relay or the bus held up? (GET /health/ready; brigade_outbox_depth and brigade_outbox_oldest_age_seconds on /metrics; brigade dlq list)`,
        );
      };
      const readPayment = () => call('read payment', 'GET', `/v1/orders/${orderId}/payment`, restaurant.staff);
      const payment = await waitUntil('the payment', readPayment, (p) => p.status === 200 && p.json?.payment !== 'authorizing', {
        deadline: Date.now() + WAIT_MS,
        slow: { afterMs: SLOW_PAYMENT_MS, onSlow: slow },
      });
      if (payment.json?.status === PARKED_SAGA) {
        // The charge got no answer: parked for a person, nothing will cancel the order on its own.
        // The saga's error is long (what happened, then what a person can do): its first sentence, and where the rest is.
        const why = String(payment.json?.error ?? 'no reason given').split(/\.\s/)[0];
        throw new Error(`its payment is parked (${String(payment.json?.payment)}): ${why}; brigade sagas show ${orderId} says what to do`);
      }
      if (payment.json?.payment !== 'authorized') {
        // Declined: the payments saga cancels the order (its compensation); wait for that to land.
        await waitUntil('the cancel', () => call('read order', 'GET', `/v1/orders/${orderId}`, restaurant.staff), (o) => o.json?.status === 'cancelled' && o.json.cancelledBy === 'system', { deadline: Date.now() + WAIT_MS });
        throw new PaymentsCancelled();
      }
      record(WAITED_FOR_PAYMENT, performance.now() - waitedFrom);
      await command(orderId, 'accept', restaurant.staff, version, { etaMinutes: 15 });
      for (const line of order.lines as Array<{ lineId: string }>) await command(orderId, 'mark-item-prepared', restaurant.staff, version, { lineId: line.lineId });
      await command(orderId, 'ready', restaurant.staff, version);
      // The delivery service's dispatch workers assign a courier; wait for it (bounded).
      const readyAt = performance.now();
      const assigned = await waitUntil('a courier', () => must('read order', 'GET', `/v1/orders/${orderId}`, restaurant.staff), (o) => o.courierId !== null, { deadline: Date.now() + WAIT_MS });
      record(WAITED_FOR_COURIER, performance.now() - readyAt);
      version.v = assigned.version as number;
      const courier = courierTokens.get(assigned.courierId as string) as string;
      await command(orderId, 'pick-up', courier, version);
      await command(orderId, 'deliver', courier, version);
      delivered++;
      record(ORDER_TO_DELIVERY, performance.now() - placedAt);
    } catch (error) {
      if (!(error instanceof PaymentsCancelled)) throw error;
      declined++;
    }
  };
  const stopped = () => hooks.signal?.aborted === true;
  // Once the rush is stopped (Ctrl+C) the bar stands still and nothing more is counted as failed: the
  // orders in flight then end with the platform closing under them, and each used to advance it.
  const attempt = (n: number) =>
    oneOrder(n).then(
      () => {
        if (!stopped()) progress();
      },
      (error: unknown) => {
        if (stopped()) return;
        failed++;
        hooks.onSetup?.(`order ${n + 1} failed: ${error instanceof Error ? error.message : String(error)}`);
        progress();
      },
    );

  if (options.clients !== undefined) {
    // Closed loop: each client places its next order once its previous one has ended.
    let next = 0;
    await Promise.all(Array.from({ length: options.clients }, async () => {
      for (let n = next++; n < options.orders && hooks.signal?.aborted !== true; n = next++) await attempt(n);
    }));
  } else {
    const running: Promise<void>[] = [];
    for (let n = 0; n < options.orders && hooks.signal?.aborted !== true; n++) {
      running.push(attempt(n));
      await sleep(1000 / options.rate);
    }
    await Promise.all(running);
  }

  // The payments settle after the orders: payouts follow the delivery, voids the cancel.
  const payments: Record<string, number> = {};
  let settled = 0;
  const deadline = Date.now() + WAIT_MS;
  for (const { orderId, token } of placed) {
    const read = () => call('read payment', 'GET', `/v1/orders/${orderId}/payment`, token);
    let stage: string;
    try {
      const ended = (await waitUntil('the payment to settle', read, (p) => p.status === 200 && (FINISHED_SAGA.has(String(p.json?.status)) || p.json?.status === PARKED_SAGA), { deadline })).json;
      stage = ended?.status === PARKED_SAGA ? `parked (${String(ended?.payment)})` : String(ended?.payment);
      if (ended?.status !== PARKED_SAGA) settled++;
    } catch {
      const last = await read();
      stage = last.status === 200 ? `still ${String(last.json?.payment)}` : 'not started';
    }
    payments[stage] = (payments[stage] ?? 0) + 1;
  }
  const seconds = (performance.now() - started) / 1000;
  const deadSince = Math.max(0, (await deadLetterTotal()) - deadBefore);
  // Off duty: a courier left available would be dispatched to the next run's (or anyone's) orders in this city.
  for (const token of courierTokens.values()) await call('availability', 'POST', '/v1/couriers/me/availability', token, { available: false });
  return {
    seconds,
    delivered,
    cancelled,
    declined,
    failed,
    settled,
    payments,
    latencies,
    conflicts,
    cacheHits,
    cacheReads,
    deadLetters: deadSince,
    restaurantIds: restaurants.map((r) => r.id),
  };
}

/** The order was cancelled by payments: its card was declined. */
class PaymentsCancelled extends Error {
  constructor() {
    super('cancelled by payments: the card was declined');
  }
}
