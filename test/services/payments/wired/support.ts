import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import pg from 'pg';
import { workersOf } from '../../../../src/cli/runUntilSignal.ts';
import { SERVICES } from '../../../../src/composition/services.ts';
import {
  buildPaymentProvider,
  createPaymentProviderClient,
  ensureProviderSchema,
  NO_FAULTS,
  type LedgerEntry,
  type PaymentProviderClient,
  type ProviderFaults,
} from '../../../../src/services/payments/provider/index.ts';
import { createTestDatabase } from '../../../support/db.ts';
import { startTestPlatform, type TestPlatform } from '../../../support/platform.ts';
import { placeOrder, seedRestaurant, type SeededRestaurant } from '../../ordering/support.ts';

/** The card the stand-in provider always declines. */
export const DECLINED_CARD = NO_FAULTS.declineCard as string;

/**
 * The whole platform as `brigade start` wires it (the composition root's services, every worker:
 * relays, projectors, dispatch, the payments consumer, saga runner and deadline scheduler) on a
 * database of its own, calling a real stand-in provider over HTTP at PAYMENT_PROVIDER_URL.
 */
export interface WiredPlatform {
  readonly t: TestPlatform;
  readonly provider: PaymentProviderClient;
  /** A superuser pool on the test's database, for looking at what happened. */
  readonly admin: pg.Pool;
  /** Switches the provider's faults for the requests that follow. */
  setFaults(faults: ProviderFaults): void;
  close(): Promise<void>;
}

/** Starts the wired platform; `env` adds configuration (e.g. ACCEPT_DEADLINE_MINUTES). */
export async function startWiredPlatform(env: Record<string, string> = {}): Promise<WiredPlatform> {
  let faults: ProviderFaults = NO_FAULTS;
  const db = await createTestDatabase();
  // The provider keeps its ledger in schema payment_provider of the test's own database.
  const providerPool = new pg.Pool({ connectionString: db.url, max: 4 });
  await ensureProviderSchema(providerPool);
  const providerApp = await buildPaymentProvider({ pool: providerPool, faults: () => faults });
  const providerUrl = await providerApp.listen({ host: '127.0.0.1', port: 0 });
  // Configured like production: the provider's URL through the environment. Every worker runs, and the
  // relays' and projections' leaders each keep a pooled connection (8 of them): the default pool of 20.
  const t = await startTestPlatform({ PAYMENT_PROVIDER_URL: providerUrl, PAYMENT_PROVIDER_TIMEOUT_MS: '2000', DATABASE_POOL_SIZE: '20', ...env }, db);
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const running = workersOf(SERVICES).map((w) =>
    w.run(t.platform.deps, stop.signal).catch((error: unknown) => {
      if (!stop.signal.aborted) process.emitWarning(`worker ${w.service}/${w.name} crashed: ${String(error)}`);
    }),
  );
  const admin = new pg.Pool({ connectionString: db.url, max: 2 });
  return {
    t,
    provider: createPaymentProviderClient({ baseUrl: providerUrl, timeoutMs: 5000 }),
    admin,
    setFaults: (next) => {
      faults = next;
    },
    close: async () => {
      stop.abort();
      await Promise.all(running);
      await admin.end();
      await providerApp.close();
      await providerPool.end();
      await t.close();
    },
  };
}

/** `GET /v1/orders/:id/payment` with `token`: status code and body. */
export async function paymentOf(w: WiredPlatform, orderId: string, token: string): Promise<{ statusCode: number; body: Record<string, unknown> }> {
  const res = await w.t.request({ url: `/v1/orders/${orderId}/payment`, token });
  return { statusCode: res.statusCode, body: res.json() as Record<string, unknown> };
}

/** The provider's ledger entries moved for an order (the saga's keys start with the order id): [movement, amount, key suffix]. */
export async function ledgerOf(w: WiredPlatform, orderId: string): Promise<Array<[LedgerEntry['movement'], number, string]>> {
  return (await w.provider.ledger()).filter((e) => e.idempotencyKey.startsWith(`${orderId}:`)).map((e) => [e.movement, e.amount, e.idempotencyKey.slice(orderId.length + 1)]);
}

/** A customer signed up through the API, with a card on file when `card` is given. */
export async function signUp(w: WiredPlatform, card?: string): Promise<{ id: string; token: string }> {
  const res = await w.t.request({ method: 'POST', url: '/v1/customers', payload: { name: 'Ana', email: `ana-${Math.random().toString(36).slice(2)}@example.com`, address: 'Rua das Flores 10, Porto' } });
  assert.equal(res.statusCode, 201, res.body);
  const customer = { id: res.json().id as string, token: res.json().token as string };
  if (card !== undefined) {
    const put = await w.t.request({ method: 'PUT', url: '/v1/customers/me/payment-method', token: customer.token, payload: { cardNumber: card } });
    assert.equal(put.statusCode, 200, put.body);
  }
  return customer;
}

/** Places an order of two large pizzas and a cola (2 × 1300 + 250 = 2850) for `customer`, with `headers` on the request (e.g. a `traceparent`). */
export async function orderFor(
  w: WiredPlatform,
  r: SeededRestaurant,
  customer: { token: string },
  headers: Record<string, string> = {},
): Promise<{ id: string; total: number; version: number; lines: Array<{ lineId: string }> }> {
  const res = await placeOrder(w.t, customer.token, { restaurantId: r.rid, deliveryAddress: 'Rua das Flores 10, Porto', lines: [{ itemId: r.pizza, quantity: 2, modifierIds: [r.large] }, { itemId: r.cola, quantity: 1 }] }, randomUUID(), headers);
  assert.equal(res.statusCode, 201, res.body);
  return res.json();
}

export { seedRestaurant, type SeededRestaurant };
export { eventually, FLOW_MS } from '../../../support/eventually.ts';

/** An order event's envelope as `GET /v1/orders/:id/events` shows it: its type and lineage. */
export interface EventEnvelope {
  readonly type: string;
  readonly metadata: { readonly messageId: string; readonly correlationId: string; readonly causationId: string | null; readonly extra?: { readonly traceparent?: string } };
}

/** The order's events (`GET /v1/orders/:id/events` as `token`), and the headers of each one's outbox message, by message id. */
export async function lineageOf(w: WiredPlatform, orderId: string, token: string): Promise<{ events: EventEnvelope[]; headers: Map<string, Record<string, string>> }> {
  const res = await w.t.request({ url: `/v1/orders/${orderId}/events`, token });
  assert.equal(res.statusCode, 200, res.body);
  const events = res.json().events as EventEnvelope[];
  const rows = (await w.admin.query<{ id: string; headers: Record<string, string> }>(`select message_id::text as id, headers from ordering.outbox where message_id = any($1::uuid[])`, [events.map((e) => e.metadata.messageId)])).rows;
  return { events, headers: new Map(rows.map((row) => [row.id, row.headers])) };
}

/**
 * The saga's steps without their retries: on a loaded machine a provider call may time out and be
 * tried again (a `retrying` entry before the outcome), which is the saga working, not a second charge;
 * the provider's ledger says what moved.
 */
export const finalOutcomes = <T extends { outcome: string }>(steps: readonly T[]): T[] => steps.filter((s) => s.outcome !== 'retrying');
