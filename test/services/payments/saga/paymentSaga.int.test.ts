import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { newMessageId, type MessageHeaders } from '../../../../src/platform/messaging/index.ts';
import {
  closeSaga,
  createDeadlineScheduler,
  createSagaRegistry,
  createSagaRunner,
  listSagas,
  loadSaga,
  resumeSaga,
  SagaNotParkedError,
  settleSagaCompensation,
  showSaga,
  type SagaRegistry,
  type SagaRunner,
} from '../../../../src/platform/sagas/index.ts';
import {
  buildPaymentProvider,
  type ProviderFaults,
  createPaymentProviderClient,
  ensureProviderSchema,
  NO_FAULTS,
  type LedgerEntry,
  type PaymentProviderClient,
  PaymentProviderUnavailableError,
} from '../../../../src/services/payments/provider/index.ts';
import { handleOrderEvent, MONEY_STEP_ATTEMPTS, paymentOrderEventsHandler, PaymentSagaNotStartedError, paymentSaga, payoutsOf, type PaymentSagaPorts, type PaymentSagaState } from '../../../../src/services/payments/saga/index.ts';
import { PaymentMethodMissingError } from '../../../../src/services/payments/paymentMethodsOf.ts';
import { ERROR_FOR_CUSTOMERS } from '../../../../src/services/payments/routes.ts';
import { startTestPlatform, type TestPlatform } from '../../../support/platform.ts';
import { command, courier, customer, placeOrder, seedRestaurant, type SeededRestaurant } from '../../ordering/support.ts';

const GOOD_CARD = '4242424242424242';
/** The customer's card on file is gone (and there is no default card). */
const NO_CARD = 'none';
const SYSTEM = { kind: 'system', id: 'test' } as const;

describe('payment saga: order events drive charge, refund, capture and payouts on the real provider and ordering', () => {
  let t: TestPlatform;
  let pool: pg.Pool;
  let provider: FastifyInstance;
  /** The provider as the test and (outside a held answer) the saga call it: it waits longer than a loaded machine takes to answer. */
  let client: PaymentProviderClient;
  /** The saga's calls while {@link withFaults} holds the provider's answers for 10 s: they give up after 1.5 s, so the answer is lost. */
  let impatient: PaymentProviderClient;
  /** Whether the saga calls the provider through {@link impatient}. */
  let answersHeld = false;
  /** The saga's provider calls (the port's method names) whose answers are lost while {@link withLostAnswers} runs: the provider acts, then holds the answer. */
  let answersLostOf: ReadonlySet<string> = new Set();
  /** A call of {@link answersLostOf} is in flight: the provider holds its answer after acting. */
  let losingAnswer = false;
  let registry: SagaRegistry;
  let runner: SagaRunner;
  let r: SeededRestaurant;
  const cards = new Map<string, string>();
  const cancels: Array<{ orderId: string; reason: string }> = [];
  /** The orders `expire` asked ordering about, once per call. */
  const expiresAsked: string[] = [];
  const delivered = new Map<string, number>();
  let faults: ProviderFaults = NO_FAULTS;
  /** How many more of the saga's reads of the provider's ledger answer; the others fail as if the provider could not be reached. */
  let ledgerAnswers = Infinity;
  /** How many more reads of the card on file fail as if its database had blinked. */
  let cardStoreBlips = 0;
  /** While set, a read of the card on file says it has begun, then waits until the test opens the gate: a charge attempt held in flight. */
  let cardGate: { entered: () => void; opened: Promise<void> } | null = null;

  before(async () => {
    t = await startTestPlatform();
    pool = new pg.Pool({ connectionString: t.db.url, max: 4 });
    await ensureProviderSchema(pool);
    provider = await buildPaymentProvider({ pool, faults: () => (losingAnswer ? { ...faults, timeoutRate: 1, hangMs: 10_000 } : faults) });
    const baseUrl = await provider.listen({ host: '127.0.0.1', port: 0 });
    client = createPaymentProviderClient({ baseUrl, timeoutMs: 30_000 });
    impatient = createPaymentProviderClient({ baseUrl, timeoutMs: 1500 });
    const calling = () => (answersHeld ? impatient : client);
    /** Sends `method`'s call; one of {@link answersLostOf} goes through {@link impatient} while the provider holds its answer. */
    const send = async <T,>(method: string, call: (c: PaymentProviderClient) => Promise<T>): Promise<T> => {
      if (!answersLostOf.has(method)) return call(calling());
      losingAnswer = true;
      try {
        return await call(impatient);
      } finally {
        losingAnswer = false;
      }
    };
    r = await seedRestaurant(t, 'Saga');
    const admin = await t.token('admin', { subject: 'payments-test' });
    const ports: PaymentSagaPorts = {
      provider: {
        charge: (request, key) => send('charge', (c) => c.charge(request, key)),
        capture: (chargeId, key, expected) => send('capture', (c) => c.capture(chargeId, key, expected)),
        refund: (request, key, expected) => send('refund', (c) => c.refund(request, key, expected)),
        void: (chargeId, key, expected) => send('void', (c) => c.void(chargeId, key, expected)),
        payout: (request, key) => send('payout', (c) => c.payout(request, key)),
        ledger: (filter) => (ledgerAnswers-- <= 0 ? Promise.reject(new PaymentProviderUnavailableError('ledger down (test)')) : calling().ledger(filter)),
      },
      paymentMethods: {
        cardFor: async ({ customerId }) => {
          if (cardGate !== null) {
            cardGate.entered();
            await cardGate.opened;
          }
          if (cardStoreBlips > 0 && cardStoreBlips--) throw new Error('Connection terminated unexpectedly (test)');
          if (cards.get(customerId) === NO_CARD) throw new PaymentMethodMissingError(customerId);
          return cards.get(customerId) ?? GOOD_CARD;
        },
      },
      // Ordering's own HTTP API, idempotent: an order already cancelled or rejected counts as done.
      orders: {
        cancelOrder: async ({ orderId, reason }) => {
          const current = await t.request({ url: `/v1/orders/${orderId}`, token: admin });
          assert.equal(current.statusCode, 200, current.body);
          if (['cancelled', 'rejected'].includes(current.json().status)) return;
          const res = await command(t, admin, orderId, 'cancel', current.json().version, { reason });
          assert.equal(res.statusCode, 200, res.body);
          cancels.push({ orderId, reason });
        },
        // Only an order still placed is cancelled; any other answers its status.
        expireOrder: async ({ orderId, reason }) => {
          expiresAsked.push(orderId);
          const current = await t.request({ url: `/v1/orders/${orderId}`, token: admin });
          assert.equal(current.statusCode, 200, current.body);
          const courierId = (current.json().courierId as string | null | undefined) ?? null;
          if (current.json().status !== 'placed') return { status: current.json().status as string, courierId };
          const res = await command(t, admin, orderId, 'cancel', current.json().version, { reason });
          assert.equal(res.statusCode, 200, res.body);
          cancels.push({ orderId, reason });
          return { status: 'cancelled', courierId };
        },
      },
    };
    registry = createSagaRegistry({ schema: 'payments', sagas: [paymentSaga(ports, { acceptWithinMs: 10 * 60_000, courierFees: { EUR: 300 }, commissionRate: 0.15 })] });
    runner = createSagaRunner({ unitOfWork: t.platform.deps.unitOfWork, service: 'payments', registry, backoffMs: () => 0 });
  });
  after(async () => {
    await provider.close();
    await pool.end();
    await t.close();
  });

  /** Hands the order's new integration messages to handleOrderEvent only (a step may be in flight meanwhile). */
  const handOver = async (orderId: string) => {
    const { rows } = await pool.query<{ id: string; subject: string; headers: MessageHeaders; payload: unknown }>(
      `select id, subject, headers, payload from ordering.outbox where payload ->> 'orderId' = $1 and id > $2 order by transaction_id, id`,
      [orderId, delivered.get(orderId) ?? 0],
    );
    const outcomes: string[] = [];
    for (const m of rows) {
      outcomes.push(await t.platform.deps.unitOfWork({ service: 'payments', tenantId: m.headers.tenant, actor: SYSTEM }, (tx) => handleOrderEvent(tx, registry, m)));
      delivered.set(orderId, Number(m.id));
    }
    return { subjects: rows.map((m) => m.subject.replace('ordering.order.', '')), outcomes, messages: rows };
  };
  /** Hands the order's new integration messages (ordering's outbox rows, as published) to handleOrderEvent, then runs the saga's steps. */
  const sync = async (orderId: string) => {
    const handed = await handOver(orderId);
    while (await runner.runOnce());
    return handed;
  };
  const saga = (orderId: string) => t.platform.deps.unitOfWork({ service: 'payments', tenantId: r.rid, actor: SYSTEM }, (tx) => loadSaga<PaymentSagaState>(tx, registry, orderId));
  /** The provider's ledger entries moved under this saga's keys, in order. */
  const ledger = async (orderId: string) => (await client.ledger()).filter((e: LedgerEntry) => e.idempotencyKey.startsWith(`${orderId}:`)).map((e) => [e.movement, e.amount, e.idempotencyKey.slice(orderId.length + 1)]);
  const orderStatus = async (orderId: string) => (await t.request({ url: `/v1/orders/${orderId}`, token: r.staff })).json().status as string;
  const place = async (card = GOOD_CARD) => {
    const c = await customer(t);
    cards.set(c.id, card);
    const res = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua das Flores 10, Porto', lines: [{ itemId: r.pizza, quantity: 2, modifierIds: [r.large] }, { itemId: r.cola, quantity: 1 }] });
    assert.equal(res.statusCode, 201, res.body);
    return { ...(res.json() as { id: string; total: number; lines: Array<{ lineId: string }>; version: number }), customerToken: c.token };
  };
  /** Starts the order's saga from its OrderPlaced and runs the `order` step: the next run is the charge. */
  const placedUpToCharge = async (orderId: string) => {
    const [message] = (await pool.query(`select id, subject, headers, payload from ordering.outbox where payload ->> 'orderId' = $1`, [orderId])).rows;
    await t.platform.deps.unitOfWork({ service: 'payments', tenantId: r.rid, actor: SYSTEM }, (tx) => handleOrderEvent(tx, registry, message));
    delivered.set(orderId, Number(message.id));
    assert.equal(await runner.runOnce(), true, 'step order');
  };
  /** Runs `fn` while the provider applies `injected`, then goes back to none. */
  const withFaults = async <T,>(injected: Partial<ProviderFaults>, fn: () => Promise<T>): Promise<T> => {
    faults = { ...NO_FAULTS, ...injected };
    answersHeld = (injected.timeoutRate ?? 0) > 0;
    try {
      return await fn();
    } finally {
      faults = NO_FAULTS;
      answersHeld = false;
    }
  };
  /** Runs `fn` while the provider acts on every call of `methods` (the port's names) and then holds its answer past the saga's patience. */
  const withLostAnswers = async <T,>(methods: string[], fn: () => Promise<T>): Promise<T> => {
    answersLostOf = new Set(methods);
    try {
      return await fn();
    } finally {
      answersLostOf = new Set();
    }
  };
  const step = async (token: string, orderId: string, name: string, payload?: Record<string, unknown>) => {
    const current = await t.request({ url: `/v1/orders/${orderId}`, token: r.staff });
    const res = await command(t, token, orderId, name, current.json().version, payload);
    assert.equal(res.statusCode, 200, `${name}: ${res.body}`);
  };

  /** Places an order whose charge the provider never answers (a 503 on every attempt): its saga parks with `charge` pending. */
  const placeParked = async () => {
    const order = await place();
    await placedUpToCharge(order.id);
    await withFaults({ errorRate: 1 }, async () => {
      while (await runner.runOnce());
    });
    assert.deepEqual([(await saga(order.id))?.status, (await saga(order.id))?.pending], ['parked', ['charge']]);
    return order;
  };
  const ops = { service: 'payments', actor: { kind: 'admin' as const, id: 'ops' } };
  /** `brigade sagas resume` as the person who settled it, then the runner's work. */
  const resume = async (orderId: string) => {
    const resumed = await t.platform.deps.unitOfWork(ops, (tx) => resumeSaga(tx, 'payments', orderId, 'ops'));
    while (await runner.runOnce());
    return resumed;
  };

  /** The order's authorization was voided once by the `refund` step (never captured, so nothing refunded), and the order was not cancelled by payments (a rejected order needs no cancel). */
  const assertRefundedOnce = async (order: { id: string; total: number }) => {
    assert.deepEqual(await ledger(order.id), [
      ['authorization', order.total, 'charge'],
      ['void', order.total, 'refund:void'],
    ]);
    assert.equal(cancels.filter((c) => c.orderId === order.id).length, 0, 'a rejected order needs no cancel');
  };

  /** Takes a placed order (its charge made) through accept, preparation, a courier and delivery; the saga has seen all but the delivery. */
  const toDelivered = async (order: { id: string; lines: Array<{ lineId: string }> }) => {
    await step(r.staff, order.id, 'accept', { etaMinutes: 15 });
    for (const line of order.lines) await step(r.staff, order.id, 'mark-item-prepared', { lineId: line.lineId });
    await step(r.staff, order.id, 'ready');
    const k = await courier(t);
    await step(r.staff, order.id, 'assign-courier', { courierId: k.id });
    await sync(order.id);
    await step(k.token, order.id, 'pick-up');
    await step(k.token, order.id, 'deliver');
    return k;
  };

  test('happy path: OrderPlaced authorizes, accept continues, delivery captures and pays out restaurant and courier', async () => {
    const order = await place();
    assert.equal(order.total, 2 * 1300 + 250);
    const placed = await sync(order.id);
    assert.deepEqual([placed.subjects, placed.outcomes], [['OrderPlaced'], ['started']]);
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']], 'charged (authorized) on OrderPlaced, with the key ${sagaId}:charge');

    await step(r.staff, order.id, 'accept', { etaMinutes: 15 });
    for (const line of order.lines) await step(r.staff, order.id, 'mark-item-prepared', { lineId: line.lineId });
    await step(r.staff, order.id, 'ready');
    const k = await courier(t);
    await step(r.staff, order.id, 'assign-courier', { courierId: k.id });
    const accepted = await sync(order.id);
    assert.deepEqual(accepted.subjects, ['OrderAccepted', 'ItemPrepared', 'ItemPrepared', 'OrderReady', 'CourierAssigned']);
    const running = await saga(order.id);
    assert.deepEqual([running?.status, running?.state.accepted, running?.state.courierId], ['running', true, k.id]);
    assert.equal(running?.version, 5, 'start, order, charge, accepted, courier assigned: one version per change');
    assert.equal(running?.state.courierFee, 300, "the EUR fee, fixed into the saga's state when it started");

    await step(k.token, order.id, 'pick-up');
    await step(k.token, order.id, 'deliver');
    await sync(order.id);
    const done = await saga(order.id);
    assert.equal(done?.status, 'completed');
    assert.deepEqual(done?.completed, ['order', 'charge', 'capture', 'payoutRestaurant', 'payoutCourier']);
    const split = payoutsOf({ ...order, courierFee: 300 }, { commissionRate: 0.15 });
    assert.deepEqual(split, { restaurant: 2850 - 300 - 428, courier: 300 });
    assert.deepEqual(await ledger(order.id), [
      ['authorization', order.total, 'charge'],
      ['capture', order.total, 'capture'],
      ['payout', split.restaurant, 'payoutRestaurant'],
      ['payout', split.courier, 'payoutCourier'],
    ]);

    // Every message again (a redelivery): the saga has finished and nothing moves.
    const again = await Promise.all((await pool.query(`select subject, headers, payload from ordering.outbox where payload ->> 'orderId' = $1`, [order.id])).rows.map(
      (m) => t.platform.deps.unitOfWork({ service: 'payments', tenantId: r.rid, actor: SYSTEM }, (tx) => handleOrderEvent(tx, registry, m)),
    ));
    assert.ok(again.every((o) => o === 'ignored'), again.join());
    while (await runner.runOnce());
    assert.equal((await ledger(order.id)).length, 4);
  });

  test('a small order whose fee and commission take the whole restaurant share: delivered and completed, no payout of 0', async () => {
    const c = await customer(t);
    cards.set(c.id, GOOD_CARD);
    const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua das Flores 10, Porto', lines: [{ itemId: r.cola, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
    const order = placed.json() as { id: string; total: number; lines: Array<{ lineId: string }> };
    assert.deepEqual(payoutsOf({ ...order, courierFee: 300 }, { commissionRate: 0.15 }), { restaurant: 0, courier: 250 });
    await sync(order.id);
    await toDelivered(order);
    await sync(order.id);
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.completed], ['completed', ['order', 'charge', 'capture', 'payoutRestaurant', 'payoutCourier']]);
    assert.deepEqual(await ledger(order.id), [
      ['authorization', 250, 'charge'],
      ['capture', 250, 'capture'],
      ['payout', 250, 'payoutCourier'],
    ], 'no refund of the delivered order, and no payout of 0');
  });

  test('the capture of a delivered order fails on every attempt: parked for a person with what to do; nothing refunded, the order not cancelled', async () => {
    const order = await place();
    await sync(order.id);
    const k = await toDelivered(order);
    await withFaults({ errorRate: 1 }, async () => {
      await sync(order.id);
    });
    while (await runner.runOnce()); // the provider is back: nothing more runs
    const parked = await saga(order.id);
    assert.deepEqual([parked?.status, parked?.pending, parked?.completed, parked?.attempts], ['parked', ['capture', 'payoutRestaurant', 'payoutCourier'], ['order', 'charge'], MONEY_STEP_ATTEMPTS]);
    const split = payoutsOf({ ...order, courierFee: 300 }, { commissionRate: 0.15 });
    assert.equal(
      parked?.error,
      `capture of the delivered order: no answer says whether the capture of charge ${parked?.state.chargeId} (key ${order.id}:capture) was made ` +
        `(PAYMENT_PROVIDER_UNAVAILABLE: The payment provider answered 503: The payment provider is unavailable (injected fault); retry with the same Idempotency-Key); ` +
        `the provider's ledger held no capture under key ${order.id}:capture (reference ${order.id}) when asked after it; nothing was refunded. ` +
        `Look that key up in the provider's ledger again (the request may have landed after the saga asked): a capture under it means the charge was captured, and a resume finds it there and goes on; none means the money did not move. ` +
        `Once the payment provider answers, 'brigade sagas resume ${order.id}' does what is left: capture charge ${parked?.state.chargeId} (key ${order.id}:capture), then pay ${split.restaurant} EUR out to restaurant ${r.rid} (key ${order.id}:payoutRestaurant), ` +
        `then pay ${split.courier} EUR out to courier ${k.id} (key ${order.id}:payoutCourier); each key moves the money once however often it is sent. ` +
        `Or do it by hand under those keys, then 'brigade sagas close ${order.id} --reason "what you did"'`,
    );
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']], 'no refund');
    assert.equal(await orderStatus(order.id), 'delivered');
    assert.equal(cancels.filter((c) => c.orderId === order.id).length, 0);
    const view = await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff });
    assert.deepEqual([view.statusCode, view.json().status, view.json().payment, view.json().error], [200, 'parked', 'authorized', parked?.error], view.body);

    // Settled by hand (captured and paid out at the provider), then closed: finished, no longer stuck.
    const closed = await t.platform.deps.unitOfWork(ops, (tx) => closeSaga(tx, 'payments', order.id, { by: 'ana', reason: 'captured and paid out by hand' }));
    assert.deepEqual([closed?.was, closed?.left, closed?.error], ['parked', ['capture', 'payoutRestaurant', 'payoutCourier'], parked?.error]);
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.pending], ['closed', []]);
    assert.equal(done?.error, `Closed by ana: captured and paid out by hand. It had been parked with: ${parked?.error}`);
    const stuck = await t.platform.deps.unitOfWork({ ...ops, readOnly: true }, (tx) => listSagas(tx, 'payments', { stuckAfterMs: 0, limit: 10_000 }));
    assert.ok(!stuck.some((x) => x.id === order.id), 'no longer listed as stuck');
    const log = await t.platform.deps.unitOfWork({ ...ops, readOnly: true }, (tx) => showSaga(tx, 'payments', order.id));
    assert.deepEqual(log?.log.at(-1)?.data, { by: 'ana', reason: 'captured and paid out by hand', was: 'parked', left: ['capture', 'payoutRestaurant', 'payoutCourier'], error: parked?.error });
    const closedView = (await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff })).json();
    assert.deepEqual([closedView.status, closedView.payment, closedView.error], ['closed', 'settled_by_hand', done?.error]);
    await assert.rejects(t.platform.deps.unitOfWork(ops, (tx) => closeSaga(tx, 'payments', order.id, { by: 'ana', reason: 'again' })), { code: 'SAGA_NOT_CLOSABLE', status: 422 });
    await assert.rejects(t.platform.deps.unitOfWork(ops, (tx) => resumeSaga(tx, 'payments', order.id, 'ana')), { code: 'SAGA_NOT_PARKED', status: 422 });
    await assert.rejects(t.platform.deps.unitOfWork(ops, (tx) => closeSaga(tx, 'payments', order.id, { by: 'ana', reason: ' ' })), { code: 'VALIDATION_FAILED' });
  });

  test('an order whose total is 0: nothing to charge, capture or pay out; delivered and completed without a call to the provider', async () => {
    const post = async (path: string, payload: Record<string, unknown>) => {
      const res = await t.request({ method: 'POST', url: `/v1/restaurants/${r.rid}/menu/${path}`, token: r.staff, payload });
      assert.equal(res.statusCode, 201, res.body);
      return res.json() as { id: string };
    };
    const water = await post('items', { categoryId: (await post('categories', { name: 'On the house' })).id, name: 'Tap water', price: 0 });
    const c = await customer(t);
    const placed = await placeOrder(t, c.token, { restaurantId: r.rid, deliveryAddress: 'Rua das Flores 10, Porto', lines: [{ itemId: water.id, quantity: 1 }] });
    assert.equal(placed.statusCode, 201, placed.body);
    const order = placed.json() as { id: string; total: number; lines: Array<{ lineId: string }> };
    assert.equal(order.total, 0);
    await sync(order.id);
    const charged = await saga(order.id);
    assert.deepEqual([charged?.status, charged?.completed, charged?.state.chargeId], ['running', ['order', 'charge'], null], 'not cancelled');
    const view = (await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff })).json() as { payment: string; amounts: { authorized: number } };
    assert.deepEqual([view.payment, view.amounts.authorized], ['authorized', 0], 'the order goes on: not voided');
    await toDelivered(order);
    await sync(order.id);
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.completed], ['completed', ['order', 'charge', 'capture', 'payoutRestaurant', 'payoutCourier']]);
    assert.deepEqual(await ledger(order.id), [], 'no money moved');
    assert.equal(await orderStatus(order.id), 'delivered');
  });

  test('a declined card: the order is cancelled through ordering and nothing is charged', async () => {
    const order = await place(NO_FAULTS.declineCard as string);
    await sync(order.id);
    const failed = await saga(order.id);
    assert.equal(failed?.status, 'compensated');
    assert.match(failed?.error ?? '', /^charge failed: /);
    assert.deepEqual(failed?.completed, ['order'], 'the charge never completed, so there is nothing to refund');
    assert.equal(await orderStatus(order.id), 'cancelled');
    assert.deepEqual(cancels.filter((c) => c.orderId === order.id).length, 1);
    assert.deepEqual(await ledger(order.id), [], 'no ledger entry: nothing charged');
    const cancelled = await sync(order.id);
    assert.deepEqual([cancelled.subjects, cancelled.outcomes], [['OrderCancelled'], ['ignored']], 'our own cancel comes back as an event and changes nothing');
  });

  test('a reject after the charge: refunded once, even when the reject is delivered twice', async () => {
    const order = await place();
    // Before OrderPlaced reaches payments, the payment is not there yet: a 404 that says to retry.
    const early = await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff });
    assert.deepEqual([early.statusCode, early.json().code], [404, 'PAYMENT_NOT_STARTED'], early.body);
    assert.match(early.json().detail, /retry in a few seconds/);
    await sync(order.id);
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']]);
    await step(r.staff, order.id, 'reject', { reason: 'out of dough' });
    const rejected = await sync(order.id);
    assert.deepEqual([rejected.subjects, rejected.outcomes], [['OrderRejected'], ['advanced']]);
    const redelivered = await t.platform.deps.unitOfWork({ service: 'payments', tenantId: r.rid, actor: SYSTEM }, (tx) => handleOrderEvent(tx, registry, rejected.messages[0]!));
    assert.equal(redelivered, 'ignored');
    while (await runner.runOnce());
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.state.outcome, done?.completed], ['completed', 'rejected', ['order', 'charge', 'refund']]);
    await assertRefundedOnce(order);
  });

  test('an order lost in transit (an admin cancels it after its pick-up): the customer is refunded in full; nothing is captured for the delivery, nobody paid out', async () => {
    const order = await place();
    await sync(order.id);
    await step(r.staff, order.id, 'accept', { etaMinutes: 15 });
    await step(r.staff, order.id, 'ready');
    const k = await courier(t);
    await step(r.staff, order.id, 'assign-courier', { courierId: k.id });
    await step(k.token, order.id, 'pick-up');
    const before = await sync(order.id);
    assert.deepEqual(before.subjects, ['OrderAccepted', 'OrderReady', 'CourierAssigned', 'OrderPickedUp']);
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']], 'picked up: authorized only');
    await step(await t.token('admin', { subject: 'ops' }), order.id, 'cancel', { reason: 'lost in transit: courier unreachable' });
    const cancelled = await sync(order.id);
    assert.deepEqual([cancelled.subjects, cancelled.outcomes], [['OrderCancelled'], ['advanced']]);
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.state.outcome, done?.completed], ['completed', 'cancelled', ['order', 'charge', 'refund']]);
    // Only authorized, never captured: the refund step voids it under its own key (before: captured, then refunded).
    await assertRefundedOnce(order);
    assert.equal(await orderStatus(order.id), 'cancelled');
  });

  test('the refund of a rejected order fails on every attempt: parked with what to do, no cancel, no second refund; resumed, it refunds once', async () => {
    const order = await place();
    await sync(order.id);
    await step(r.staff, order.id, 'reject', { reason: 'the oven broke' });
    await withFaults({ errorRate: 1 }, () => sync(order.id));
    const parked = await saga(order.id);
    assert.deepEqual([parked?.status, parked?.pending, parked?.attempts], ['parked', ['refund'], MONEY_STEP_ATTEMPTS]);
    // No answer and no refund under the key in the ledger: unknown, with what to look up (before: "failed for good").
    assert.match(
      parked?.error ?? '',
      new RegExp(
        `^refund of the rejected order: no answer says whether the void of charge ${parked?.state.chargeId} \\(key ${order.id}:refund:void\\) was made \\(PAYMENT_PROVIDER_UNAVAILABLE: .*\\); ` +
          `the provider's ledger held no void under key ${order.id}:refund:void \\(reference ${order.id}\\) when asked after it; .*a void under it means the authorization was released.*'brigade sagas resume ${order.id}' voids`,
      ),
    );
    assert.equal(cancels.filter((c) => c.orderId === order.id).length, 0, 'a rejected order needs no cancel');
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']]);

    await resume(order.id);
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.completed], ['completed', ['order', 'charge', 'refund']]);
    await assertRefundedOnce(order);
  });

  test("a void that lands while every answer to it is lost: the ledger holds it under the step's key, so the saga completes voided (before: parked as failed for good)", async () => {
    const order = await place();
    await sync(order.id);
    await step(r.staff, order.id, 'reject', { reason: 'out of basil' });
    await withLostAnswers(['void'], () => sync(order.id));
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.completed, done?.pending, done?.error], ['completed', ['order', 'charge', 'refund'], [], null]);
    await assertRefundedOnce(order);
    const view = (await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff })).json() as { status: string; payment: string; amounts: { captured: number; refunded: number } };
    assert.deepEqual([view.status, view.payment, view.amounts.captured, view.amounts.refunded], ['completed', 'voided', 0, 0]);
  });

  test('a charge captured before the order ended (an operator captured it by hand, say) is refunded, not voided', async () => {
    const order = await place();
    await sync(order.id);
    const chargeId = (await saga(order.id))?.state.chargeId as string;
    await client.capture(chargeId, `${order.id}:by-hand`, { amount: order.total, currency: 'EUR' });
    await step(r.staff, order.id, 'reject', { reason: 'out of basil' });
    await sync(order.id);
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.completed], ['completed', ['order', 'charge', 'refund']]);
    assert.deepEqual(await ledger(order.id), [
      ['authorization', order.total, 'charge'],
      ['capture', order.total, 'by-hand'],
      ['refund', order.total, 'refund'],
    ]);
    const view = (await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff })).json() as { payment: string; amounts: { refunded: number } };
    assert.deepEqual([view.payment, view.amounts.refunded], ['refunded', order.total]);
  });

  test("a capture and payouts that land while every answer to them is lost: each is found in the ledger under its key, and the delivered order completes paid out (before: parked at the capture)", async () => {
    const order = await place();
    await sync(order.id);
    await toDelivered(order);
    await withLostAnswers(['capture', 'payout'], () => sync(order.id));
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.completed, done?.error], ['completed', ['order', 'charge', 'capture', 'payoutRestaurant', 'payoutCourier'], null]);
    const split = payoutsOf({ ...order, courierFee: 300 }, { commissionRate: 0.15 });
    assert.deepEqual(await ledger(order.id), [
      ['authorization', order.total, 'charge'],
      ['capture', order.total, 'capture'],
      ['payout', split.restaurant, 'payoutRestaurant'],
      ['payout', split.courier, 'payoutCourier'],
    ]);
    const view = (await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff })).json() as { payment: string; amounts: { captured: number; paidOutRestaurant: number; paidOutCourier: number } };
    assert.deepEqual([view.payment, view.amounts.captured, view.amounts.paidOutRestaurant, view.amounts.paidOutCourier], ['paid_out', order.total, split.restaurant, split.courier]);
  });

  test('an order event that arrives before its OrderPlaced is delivered again, not dropped; on its last attempt it is ignored', async () => {
    const handler = paymentOrderEventsHandler({ unitOfWork: t.platform.deps.unitOfWork, registry });
    const orderId = newMessageId();
    const accepted = {
      id: newMessageId(),
      subject: 'ordering.order.OrderAccepted',
      key: orderId,
      headers: { correlation: orderId, causation: '', tenant: r.rid, traceparent: '' },
      payload: { orderId, etaMinutes: 10 },
      attempt: 1,
    };
    await assert.rejects(handler(accepted), (e: unknown) => e instanceof PaymentSagaNotStartedError && e.code === 'PAYMENT_SAGA_NOT_STARTED');
    await handler({ ...accepted, attempt: 5 }); // an order placed before payments ran: nothing to do
    assert.equal(await saga(orderId), null);
  });

  test('the accept deadline fires while payments has yet to take the OrderAccepted of an order accepted on time: ordering is asked, and nothing is refunded or cancelled', async () => {
    const order = await place();
    await sync(order.id);
    await step(r.staff, order.id, 'accept', {}); // in ordering; its message not handed to payments yet (a backlog)
    await pool.query(`update payments.saga_deadlines set due_at = now() - interval '1 second' where saga_id = $1 and name = 'accept' and fired_at is null`, [order.id]);
    assert.equal(await createDeadlineScheduler({ unitOfWork: t.platform.deps.unitOfWork, service: 'payments', registry }).fireDue(), 1);
    while (await runner.runOnce());
    const kept = await saga(order.id);
    // Before: compensated as expired, the charge refunded and the accepted order cancelled.
    assert.deepEqual([kept?.status, kept?.state.accepted, kept?.state.outcome], ['running', true, 'open']);
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']]);
    assert.equal(cancels.filter((c) => c.orderId === order.id).length, 0);
    await sync(order.id); // the late OrderAccepted changes nothing
    const after = await saga(order.id);
    assert.deepEqual([after?.status, after?.state.accepted, after?.pending], ['running', true, []]);
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']]);
  });

  test('no accept before the deadline: refund, then the order is cancelled', async () => {
    const order = await place();
    await sync(order.id);
    // Bring the deadline forward (the clock moving), rather than waiting for it.
    const moved = await pool.query(`update payments.saga_deadlines set due_at = now() - interval '1 second' where saga_id = $1 and name = 'accept' and fired_at is null`, [order.id]);
    assert.equal(moved.rowCount, 1);
    const scheduler = createDeadlineScheduler({ unitOfWork: t.platform.deps.unitOfWork, service: 'payments', registry });
    assert.equal(await scheduler.fireDue(), 1);
    while (await runner.runOnce());
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.state.outcome], ['compensated', 'expired']);
    assert.match(done?.error ?? '', /did not accept within 600000 ms/);
    assert.deepEqual(await ledger(order.id), [
      ['authorization', order.total, 'charge'],
      ['void', order.total, 'charge:compensate:void'],
    ]);
    assert.equal(await orderStatus(order.id), 'cancelled');
    assert.equal(cancels.filter((c) => c.orderId === order.id).length, 1);
  });

  test("the refund of an expired order fails for good: the saga fails with the order's cancel left behind it; refunded by hand and resumed past it, the cancel runs and the refund is never sent again (before: the cancel too was left to the person)", async () => {
    const order = await place();
    await sync(order.id);
    await pool.query(`update payments.saga_deadlines set due_at = now() - interval '1 second' where saga_id = $1 and name = 'accept' and fired_at is null`, [order.id]);
    const scheduler = createDeadlineScheduler({ unitOfWork: t.platform.deps.unitOfWork, service: 'payments', registry });
    await withFaults({ errorRate: 1 }, async () => {
      assert.equal(await scheduler.fireDue(), 1);
      while (await runner.runOnce());
    });
    const failed = await saga(order.id);
    assert.deepEqual([failed?.status, failed?.pending, failed?.state.outcome], ['failed', ['undo:charge', 'undo:order'], 'expired']);
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']], 'nothing refunded');
    // The person refunds at the provider by hand, and says so.
    const settled = await t.platform.deps.unitOfWork(ops, (tx) => settleSagaCompensation(tx, 'payments', order.id, { by: 'ana', settled: 'refunded in full in the provider dashboard (re_manual_1)' }));
    assert.deepEqual([settled?.status, settled?.pending], ['compensating', ['undo:order']]);
    while (await runner.runOnce());
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.pending], ['compensated', []]);
    assert.match(done?.error ?? '', /did not accept within 600000 ms; compensation charge failed: .*; undo:charge settled by hand by ana: refunded in full in the provider dashboard \(re_manual_1\)$/);
    const log = await t.platform.deps.unitOfWork({ ...ops, readOnly: true }, (tx) => showSaga(tx, 'payments', order.id));
    assert.deepEqual(log?.log.slice(-2).map((e) => [e.kind, e.item, e.status]), [['event', 'settled', 'compensating'], ['succeeded', 'undo:order', 'compensated']], "the order's cancel ran after the settle (ordering had cancelled it at the expiry: the cancel finds it so)");
    assert.equal(log?.log.filter((e) => e.item === 'undo:charge').length, MONEY_STEP_ATTEMPTS, 'the refund was not tried again');
    assert.equal(await orderStatus(order.id), 'cancelled');
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']], 'no refund sent under the compensation key after the settle');
    const view = (await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff })).json() as { status: string; payment: string; error: string };
    assert.deepEqual([view.status, view.payment], ['compensated', 'settled_by_hand']);
    assert.match(view.error, /settled by hand by ana/);
  });

  test('a 503 from the provider, then success on retry: charged once, per the ledger', async () => {
    const order = await place();
    await placedUpToCharge(order.id);
    await withFaults({ errorRate: 1 }, () => runner.runOnce());
    const waiting = await saga(order.id);
    assert.deepEqual([waiting?.status, waiting?.pending, waiting?.attempts], ['running', ['charge'], 1]);
    assert.deepEqual(await ledger(order.id), [], 'nothing moved on the 503');
    while (await runner.runOnce());
    const charged = await saga(order.id);
    assert.deepEqual([charged?.completed, typeof charged?.state.chargeId], [['order', 'charge'], 'string']);
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']], 'one authorization');
  });

  test('every answer to the charge is lost: its key is in the ledger, so the saga goes on as charged', async () => {
    const order = await place();
    await placedUpToCharge(order.id);
    assert.equal(await withFaults({ timeoutRate: 1, hangMs: 10_000 }, () => runner.runOnce()), true, 'step charge: the provider charges, the answer is lost');
    const charged = await saga(order.id);
    const [authorization] = await client.ledger({ reference: order.id });
    assert.deepEqual([charged?.status, charged?.completed, charged?.pending, charged?.state.chargeId], ['running', ['order', 'charge'], [], authorization?.objectId]);
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']]);
  });

  test('a retried charge whose first answer was lost while the card on file changed: found in the ledger by its key, not sent again', async () => {
    const order = await place();
    await placedUpToCharge(order.id);
    ledgerAnswers = 1; // the read before sending answers (nothing yet); the one after the lost answer does not
    try {
      await withFaults({ timeoutRate: 1, hangMs: 10_000 }, () => runner.runOnce());
    } finally {
      ledgerAnswers = Infinity;
    }
    const waiting = await saga(order.id);
    assert.deepEqual([waiting?.pending, waiting?.attempts], [['charge'], 1], 'authorized, but neither the answer nor the ledger reached the saga');
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']], 'the first attempt did authorize');
    cards.set(waiting!.state.customerId, '5555555555554444');
    assert.equal(await runner.runOnce(), true, 'the retry');
    const charged = await saga(order.id);
    const [authorization] = await client.ledger({ reference: order.id });
    assert.deepEqual([charged?.status, charged?.completed, charged?.state.chargeId], ['running', ['order', 'charge'], authorization?.objectId]);
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']]);
  });

  test('the provider never answers the charge: the saga is parked for a person, not cancelled as if nothing was charged', async () => {
    const order = await place();
    await placedUpToCharge(order.id);
    await withFaults({ errorRate: 1 }, async () => {
      while (await runner.runOnce());
    });
    const parked = await saga(order.id);
    assert.deepEqual([parked?.status, parked?.pending, parked?.completed, parked?.attempts], ['parked', ['charge'], ['order'], MONEY_STEP_ATTEMPTS]);
    assert.match(parked?.error ?? '', new RegExp(`'brigade sagas resume ${order.id}' charges again: .* look up reference ${order.id} in the provider's ledger.*'brigade sagas close ${order.id} --reason`));
    assert.notEqual(await orderStatus(order.id), 'cancelled');
    assert.equal(cancels.filter((c) => c.orderId === order.id).length, 0);
    const view = await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff });
    assert.deepEqual([view.statusCode, view.json().status, view.json().payment, view.json().error], [200, 'parked', 'unknown', parked?.error], view.body);

    // The person finds nothing in the ledger (the provider was down) and resumes it: the charge runs
    // again, from its first attempt, and the payment goes on.
    const resumed = await t.platform.deps.unitOfWork(ops, (tx) => resumeSaga(tx, 'payments', order.id, 'ops'));
    assert.deepEqual([resumed?.status, resumed?.pending, resumed?.parkedWith], ['running', ['charge'], parked?.error]);
    while (await runner.runOnce());
    const after = await saga(order.id);
    assert.deepEqual([after?.status, after?.completed, after?.pending], ['running', ['order', 'charge'], []]);
    const log = await t.platform.deps.unitOfWork({ ...ops, readOnly: true }, (tx) => showSaga(tx, 'payments', order.id));
    assert.ok(log?.log.some((e) => e.kind === 'event' && e.item === 'resumed' && (e.data as { by?: string }).by === 'ops'), 'the resume is in the saga log');
    await assert.rejects(
      t.platform.deps.unitOfWork(ops, (tx) => resumeSaga(tx, 'payments', order.id, 'ops')),
      (e: unknown) => e instanceof SagaNotParkedError && e.code === 'SAGA_NOT_PARKED' && e.status === 422,
    );
  });

  test('an order rejected while its charge is parked: the reject is taken into the state; resumed, the ledger holds nothing under the key, so nothing is charged and the saga completes (before: it authorized, captured and refunded)', async () => {
    const order = await placeParked();
    await step(r.staff, order.id, 'reject', { reason: 'closing early' });
    const rejected = await sync(order.id);
    assert.deepEqual([rejected.subjects, rejected.outcomes], [['OrderRejected'], ['advanced']], 'not dropped');
    const noted = await saga(order.id);
    assert.deepEqual([noted?.status, noted?.pending, noted?.state.outcome], ['parked', ['charge'], 'rejected']);
    await resume(order.id);
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.completed, done?.state.outcome, done?.state.chargeId], ['completed', ['order', 'charge'], 'rejected', null]);
    assert.deepEqual(await ledger(order.id), [], 'no money moved');
  });

  test('an order cancelled while its charge is retrying on 503s (nothing charged): the charge is not sent again; the saga completes cancelled, no money moved (before: authorized, captured and refunded after the cancel)', async () => {
    const order = await place();
    await placedUpToCharge(order.id);
    await withFaults({ errorRate: 1 }, async () => {
      await runner.runOnce();
      await runner.runOnce();
    });
    const retrying = await saga(order.id);
    assert.deepEqual([retrying?.status, retrying?.pending, retrying?.attempts], ['running', ['charge'], 2]);
    await step(r.staff, order.id, 'reject', { reason: 'out of dough' });
    await sync(order.id);
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.completed, done?.state.outcome, done?.state.chargeId], ['completed', ['order', 'charge'], 'rejected', null]);
    assert.deepEqual(await ledger(order.id), [], 'no money moved after the order ended');
    const view = await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff });
    assert.equal(view.json().payment, 'voided', view.body);
  });

  test('an order rejected while an earlier charge attempt authorized with its answer lost: the ledger shows it, and the saga undoes only that authorization', async () => {
    const order = await place();
    await placedUpToCharge(order.id);
    await withLostAnswers(['charge'], () => runner.runOnce());
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']]);
    await step(r.staff, order.id, 'reject', { reason: 'out of dough' });
    await sync(order.id);
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.completed, done?.state.outcome], ['completed', ['order', 'charge', 'refund'], 'rejected']);
    assert.equal((await ledger(order.id)).filter((e) => e[0] === 'authorization').length, 1, 'authorized once, never sent again');
  });

  test('the accept deadline passes while the charge is parked: it fires into the state; resumed, the charge authorizes, is refunded and the order cancelled', async () => {
    const order = await placeParked();
    const { rows: open } = await pool.query(`select name from payments.saga_deadlines where saga_id = $1 and fired_at is null and cancelled_at is null`, [order.id]);
    assert.deepEqual(open, [{ name: 'accept' }], 'the park leaves the deadline open');
    await pool.query(`update payments.saga_deadlines set due_at = now() - interval '1 second' where saga_id = $1 and name = 'accept'`, [order.id]);
    assert.equal(await createDeadlineScheduler({ unitOfWork: t.platform.deps.unitOfWork, service: 'payments', registry }).fireDue(), 1);
    const noted = await saga(order.id);
    assert.deepEqual([noted?.status, noted?.pending, noted?.state.outcome], ['parked', ['charge', 'expire'], 'open'], 'ordering is asked once the charge lands');
    await resume(order.id);
    const done = await saga(order.id);
    assert.deepEqual([done?.status, done?.state.outcome], ['compensated', 'expired']);
    assert.deepEqual(await ledger(order.id), [
      ['authorization', order.total, 'charge'],
      ['void', order.total, 'charge:compensate:void'],
    ]);
    assert.equal(await orderStatus(order.id), 'cancelled');
  });

  test("a card refused (declined, or no card on file) for an order that ended while the accept deadline's `expire` waited behind the charge: the refusal is recorded, `expire` runs, and the saga completes with the payment declined; no park, no resume (before: parked SAGA_OUTCOME_UNRECORDED, payment unknown)", async () => {
    for (const { card, end, payment, customerReads } of [
      { card: NO_FAULTS.declineCard as string, end: 'cancel', payment: 'declined', customerReads: /^Your card was declined/ },
      { card: NO_CARD, end: 'reject', payment: 'failed', customerReads: /^No card on file/ },
    ]) {
      const order = await place(card);
      await placedUpToCharge(order.id);
      // The order-events consumer's backlog: the order was placed 11 minutes ago, so the accept deadline is due at once.
      await pool.query(`update payments.saga_deadlines set due_at = now() - interval '1 minute' where saga_id = $1 and name = 'accept' and fired_at is null`, [order.id]);
      let entered!: () => void;
      const inFlight = new Promise<void>((resolve) => (entered = resolve));
      let open!: () => void;
      cardGate = { entered, opened: new Promise<void>((resolve) => (open = resolve)) };
      let charging: Promise<boolean>;
      try {
        charging = runner.runOnce();
        await inFlight;
        // While the charge attempt is in flight: the deadline fires, and the order ends.
        assert.equal(await createDeadlineScheduler({ unitOfWork: t.platform.deps.unitOfWork, service: 'payments', registry }).fireDue(), 1);
        if (end === 'cancel') await step(order.customerToken, order.id, 'cancel', { reason: 'changed my mind' });
        else await step(r.staff, order.id, 'reject', { reason: 'out of dough' });
        const ended = await handOver(order.id);
        assert.deepEqual(ended.outcomes, ['advanced'], end);
        const noted = await saga(order.id);
        assert.deepEqual([noted?.status, noted?.pending, noted?.state.expiring, noted?.state.outcome], ['running', ['charge', 'expire'], true, end === 'cancel' ? 'cancelled' : 'rejected'], end);
      } finally {
        cardGate = null;
        open();
      }
      assert.equal(await charging, true, 'the charge attempt');
      while (await runner.runOnce());
      const done = await saga(order.id);
      assert.deepEqual([done?.status, done?.pending, done?.completed, done?.state.chargeFailed], ['completed', [], ['order', 'expire'], true], `${end}: ${done?.error ?? ''}`);
      const log = await t.platform.deps.unitOfWork({ ...ops, readOnly: true }, (tx) => showSaga(tx, 'payments', order.id));
      assert.ok(!log?.log.some((e) => e.status === 'parked'), 'never parked');
      assert.deepEqual(expiresAsked.filter((id) => id === order.id).length, 1, 'ordering asked once, after the charge');
      assert.deepEqual(await ledger(order.id), [], 'nothing charged');
      assert.equal(cancels.filter((c) => c.orderId === order.id).length, 0, 'the order had ended: payments cancels nothing');
      const asStaff = (await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff })).json() as { status: string; payment: string };
      assert.deepEqual([asStaff.status, asStaff.payment], ['completed', payment]);
      // The saga completed, so the view has no error of its own; the charge's failed step says what to do.
      const asCustomer = (await t.request({ url: `/v1/orders/${order.id}/payment`, token: order.customerToken })).json() as { error: string | null; steps: Array<{ step: string; outcome: string; error: string | null }> };
      const refusal = asCustomer.steps.find((s) => s.step === 'charge' && s.outcome === 'failed');
      assert.match(String(refusal?.error), customerReads, `the customer reads what to do, not "${ERROR_FOR_CUSTOMERS}"`);
    }
  });

  test('a charge that authorized while its answer was lost, then parked, and the card on file removed: resumed, the ledger says it charged; not cancelled as nothing charged', async () => {
    const order = await placeParked();
    // The provider did take the last attempt (a proxy answered 503 after it): its key authorized.
    const parked = await saga(order.id);
    const made = await client.charge({ amount: order.total, currency: 'EUR', card: GOOD_CARD, reference: order.id }, `${order.id}:charge`);
    cards.set(parked!.state.customerId, NO_CARD);
    await resume(order.id);
    const after = await saga(order.id);
    assert.deepEqual([after?.status, after?.completed, after?.state.chargeId], ['running', ['order', 'charge'], made.id]);
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']]);
    assert.notEqual(await orderStatus(order.id), 'cancelled');
  });

  test('GET /v1/orders/:id/payment follows the charge to its last outcome: unknown while parked, authorized once resumed and charged, paid_out once delivered', async () => {
    const order = await placeParked();
    const view = async () => (await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff })).json() as { status: string; payment: string; amounts: { authorized: number } };
    assert.deepEqual([(await view()).status, (await view()).payment], ['parked', 'unknown']);
    // The error's text is for the restaurant and the platform (provider address, keys, commands to run); the customer reads that there is one.
    const asCustomer = (await t.request({ url: `/v1/orders/${order.id}/payment`, token: order.customerToken })).json() as { error: string | null; steps: Array<{ error: string | null }> };
    assert.equal(asCustomer.error, ERROR_FOR_CUSTOMERS);
    assert.ok(asCustomer.steps.some((step) => step.error === ERROR_FOR_CUSTOMERS) && asCustomer.steps.every((step) => step.error === null || step.error === ERROR_FOR_CUSTOMERS), JSON.stringify(asCustomer.steps));
    const asStaff = (await t.request({ url: `/v1/orders/${order.id}/payment`, token: r.staff })).json() as { error: string | null };
    assert.match(String(asStaff.error), /brigade sagas resume/);
    await resume(order.id);
    assert.deepEqual([(await view()).status, (await view()).payment, (await view()).amounts.authorized], ['running', 'authorized', order.total], 'no longer failed: the charge succeeded since');
    await toDelivered(order);
    await sync(order.id);
    assert.deepEqual([(await view()).status, (await view()).payment], ['completed', 'paid_out']);
  });

  test('the card on file cannot be read once (its database blinked): the charge is retried and authorizes; not parked as an unknown outcome', async () => {
    const order = await place();
    await placedUpToCharge(order.id);
    cardStoreBlips = 1;
    assert.equal(await runner.runOnce(), true, 'the charge, whose card cannot be read');
    const waiting = await saga(order.id);
    assert.deepEqual([waiting?.status, waiting?.pending, waiting?.attempts], ['running', ['charge'], 1], 'retried, not parked on its first attempt');
    while (await runner.runOnce());
    const charged = await saga(order.id);
    assert.deepEqual([charged?.status, charged?.completed], ['running', ['order', 'charge']]);
    assert.deepEqual(await ledger(order.id), [['authorization', order.total, 'charge']]);
  });
});
