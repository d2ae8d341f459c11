import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BrigadeError, ConcurrencyError, NotFoundError, UnprocessableError } from '../../../../src/platform/errors/index.ts';
import { applySagaEvent, type SagaInstance } from '../../../../src/platform/sagas/index.ts';
import { applySagaStart } from '../../../../src/platform/sagas/applySagaEvent.ts';
import {
  createPaymentProviderClient,
  PaymentDeclinedError,
  PaymentProviderAnswerInvalidError,
  PaymentProviderCredentialsError,
  PaymentProviderTimeoutError,
  PaymentProviderUnavailableError,
  PaymentRejectedError,
  PaymentRequestChangedError,
  type LedgerEntry,
  type PaymentProviderClient,
} from '../../../../src/services/payments/provider/index.ts';
import { MONEY_STEP_ATTEMPTS, paymentSaga, payoutsOf, type PaymentSagaState } from '../../../../src/services/payments/saga/index.ts';
import type { PaymentMethods } from '../../../../src/services/payments/saga/ports.ts';
import { PaymentMethodMissingError, PaymentMethodUnavailableError } from '../../../../src/services/payments/paymentMethodsOf.ts';

// Handlers are pure: the ports are never called while deciding.
const unusedPorts = {
  provider: createPaymentProviderClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1 }),
  orders: { cancelOrder: () => Promise.reject(new Error('not called')), expireOrder: () => Promise.reject(new Error('not called')) },
  paymentMethods: { cardFor: () => Promise.reject(new Error('not called')) },
};
const saga = paymentSaga(unusedPorts, { acceptWithinMs: 60_000 });
const input = { orderId: '00000000-0000-4000-8000-000000000001', restaurantId: '00000000-0000-4000-8000-000000000002', customerId: '00000000-0000-4000-8000-000000000003', total: 2000, currency: 'EUR' };

/** The instance after start and the `order` step, with `charge` in flight (at the head of pending). */
function chargeInFlight(): SagaInstance<PaymentSagaState> {
  const t = applySagaStart(saga, input);
  assert.deepEqual([t.pending, t.schedule], [['order', 'charge'], [{ name: 'accept', inMs: 60_000 }]]);
  const base: SagaInstance<PaymentSagaState> = { tenantId: input.restaurantId, id: input.orderId, name: 'payment', version: 1, ...t };
  const next = applySagaEvent(saga, base, { kind: 'stepSucceeded', item: 'order', result: null });
  return { ...base, ...next!, version: 2 };
}
const succeed = (i: SagaInstance<PaymentSagaState>) => applySagaEvent(saga, i, { kind: 'stepSucceeded', item: 'charge', result: { id: 'ch_1' } });

describe('payment saga decisions while the charge is in flight', () => {
  test('a reject is noted, not acted on: the charge stays pending and its success runs the refund', () => {
    const rejected = applySagaEvent(saga, chargeInFlight(), { kind: 'event', event: { type: 'order.rejected', data: { reason: 'closed' } } });
    assert.deepEqual([rejected?.status, rejected?.pending, rejected?.state.outcome, rejected?.cancel], ['running', ['charge'], 'rejected', ['accept']]);
    const charged = succeed({ ...chargeInFlight(), ...rejected!, version: 3 });
    assert.deepEqual([charged?.status, charged?.pending, charged?.state.chargeId], ['running', ['refund'], 'ch_1']);
  });

  test('the accept deadline asks ordering after the charge lands: an order it cancels (still placed) is refunded; one accepted meanwhile goes on', () => {
    const due = applySagaEvent(saga, chargeInFlight(), { kind: 'event', event: { type: 'deadline.accept' } });
    assert.deepEqual([due?.status, due?.pending, due?.state.outcome], ['running', ['charge', 'expire'], 'open']);
    const charged = succeed({ ...chargeInFlight(), ...due!, version: 3 });
    assert.deepEqual([charged?.status, charged?.pending], ['running', ['expire']]);
    const asked = { ...chargeInFlight(), ...charged!, version: 4 };
    const expired = applySagaEvent(saga, asked, { kind: 'stepSucceeded', item: 'expire', result: 'cancelled' });
    assert.deepEqual([expired?.status, expired?.pending, expired?.state.outcome], ['compensating', ['undo:charge', 'undo:order'], 'expired']);
    // Before, the deadline failed the saga whatever ordering knew: an order accepted on time, whose
    // OrderAccepted payments had yet to take, was refunded and cancelled.
    // (A delivered order runs the delivery steps: see the next test.)
    for (const status of ['accepted', 'ready', 'picked_up']) {
      const kept = applySagaEvent(saga, asked, { kind: 'stepSucceeded', item: 'expire', result: status });
      assert.deepEqual([kept?.status, kept?.pending, kept?.state.accepted, kept?.state.outcome], ['running', [], true, 'open'], status);
    }
    const rejected = applySagaEvent(saga, asked, { kind: 'stepSucceeded', item: 'expire', result: 'rejected' });
    assert.deepEqual([rejected?.status, rejected?.pending, rejected?.state.outcome], ['running', ['refund'], 'rejected']);
    const unanswered = applySagaEvent(saga, asked, { kind: 'stepFailed', item: 'expire', error: { code: 'X', message: 'ordering down' }, retry: false });
    assert.equal(unanswered?.status, 'parked', 'ordering never answered: a person decides, nothing refunded');
    // A failure that passes is retried (before: one conflict or a moving tenant parked the saga at once).
    const retryable = saga.steps.expire!.retryable!;
    assert.deepEqual(
      [new ConcurrencyError(1, 2), new BrigadeError('TENANT_MOVING', 503, 'moving'), new Error('Connection terminated'), new UnprocessableError('ORDER_TRANSITION_FORBIDDEN', 'no'), new NotFoundError('order')].map(retryable),
      [true, true, true, false, false],
    );
    // The cancel that undoes `order` is the same command to ordering: one rule, as long (before: neither, so it failed at once).
    assert.equal(saga.steps.order!.retryable, retryable);
    assert.deepEqual([saga.steps.order!.maxAttempts, saga.steps.expire!.maxAttempts], [MONEY_STEP_ATTEMPTS, MONEY_STEP_ATTEMPTS]);
  });

  test("the accept deadline finds the order delivered (its events never reached payments): the charge is captured and the restaurant and the courier ordering names are paid (before: noted accepted, never captured, nobody paid)", () => {
    const courier = '00000000-0000-4000-8000-0000000000c1';
    const due = applySagaEvent(saga, chargeInFlight(), { kind: 'event', event: { type: 'deadline.accept' } });
    const charged = succeed({ ...chargeInFlight(), ...due!, version: 3 });
    const asked = { ...chargeInFlight(), ...charged!, version: 4 };
    const delivered = applySagaEvent(saga, asked, { kind: 'stepSucceeded', item: 'expire', result: { status: 'delivered', courierId: courier } });
    assert.deepEqual(
      [delivered?.status, delivered?.pending, delivered?.state.outcome, delivered?.state.courierId],
      ['running', ['capture', 'payoutRestaurant', 'payoutCourier'], 'delivered', courier],
    );
    let at: SagaInstance<PaymentSagaState> = { ...asked, ...delivered!, version: 5 };
    // An OrderDelivered (or OrderAccepted) that does come later adds nothing: each step runs once.
    for (const type of ['order.delivered', 'order.accepted']) {
      const late = applySagaEvent(saga, at, { kind: 'event', event: { type, data: { courierId: courier } } });
      assert.deepEqual([late?.pending, late?.state.outcome], [['capture', 'payoutRestaurant', 'payoutCourier'], 'delivered'], type);
    }
    for (const step of ['capture', 'payoutRestaurant', 'payoutCourier']) {
      const next = applySagaEvent(saga, at, { kind: 'stepSucceeded', item: step, result: { id: `${step}_1` } });
      at = { ...at, ...next!, version: at.version + 1 };
    }
    assert.deepEqual([at.status, at.completed], ['completed', ['order', 'charge', 'expire', 'capture', 'payoutRestaurant', 'payoutCourier']]);
    // Accepted while the step ran (its OrderAccepted came, its OrderDelivered did not): delivered all the same.
    const acceptedMeanwhile = applySagaEvent(saga, asked, { kind: 'event', event: { type: 'order.accepted' } });
    const thenDelivered = applySagaEvent(saga, { ...asked, ...acceptedMeanwhile!, version: 5 }, { kind: 'stepSucceeded', item: 'expire', result: { status: 'delivered', courierId: courier } });
    assert.deepEqual([thenDelivered?.pending, thenDelivered?.state.outcome], [['capture', 'payoutRestaurant', 'payoutCourier'], 'delivered']);
    // A step run before the answer named its courier answered a bare status: the courier the saga knows is paid.
    const assigned = applySagaEvent(saga, asked, { kind: 'event', event: { type: 'courier.assigned', data: { courierId: courier, assignment: 1 } } });
    const bare = applySagaEvent(saga, { ...asked, ...assigned!, version: 5 }, { kind: 'stepSucceeded', item: 'expire', result: 'delivered' });
    assert.deepEqual([bare?.pending, bare?.state.courierId], [['capture', 'payoutRestaurant', 'payoutCourier'], courier]);
  });

  test("the OrderCancelled of the cancel expire asked for, taken before the step's success, ends the saga as expired, not as a cancel by ordering", () => {
    const due = applySagaEvent(saga, chargeInFlight(), { kind: 'event', event: { type: 'deadline.accept' } });
    const charged = succeed({ ...chargeInFlight(), ...due!, version: 3 });
    const asked = { ...chargeInFlight(), ...charged!, version: 4 };
    assert.deepEqual([asked.pending, asked.state.expiring], [['expire'], true]);
    // Ordering cancelled the order for the step; its event reaches the saga first.
    const cancelled = applySagaEvent(saga, asked, { kind: 'event', event: { type: 'order.cancelled', data: { by: 'system', reason: 'payment: not accepted in time' } } });
    // As when the step's success comes first: compensated, the charge refunded (the order's undo finds it cancelled).
    assert.deepEqual([cancelled?.status, cancelled?.pending, cancelled?.state.outcome], ['compensating', ['expire', 'undo:charge', 'undo:order'], 'expired']);
    const afterwards = { ...asked, ...cancelled!, version: 5 };
    // The step's own success then changes nothing.
    assert.equal(applySagaEvent(saga, afterwards, { kind: 'stepSucceeded', item: 'expire', result: 'cancelled' })?.state.outcome ?? afterwards.state.outcome, 'expired');
    // Once accepted (the deadline's answer was an accepted order), a later cancel is ordering's own.
    const accepted = applySagaEvent(saga, asked, { kind: 'stepSucceeded', item: 'expire', result: 'accepted' });
    const staffCancel = applySagaEvent(saga, { ...asked, ...accepted!, version: 5 }, { kind: 'event', event: { type: 'order.cancelled', data: { by: 'staff' } } });
    assert.deepEqual([staffCancel?.state.outcome, staffCancel?.pending], ['cancelled', ['refund']]);
  });

  test("the accept deadline is scheduled at placedAt + acceptWithinMs when the input has placedAt (before: acceptWithinMs from whenever payments took the OrderPlaced); without it, acceptWithinMs from now", () => {
    const placedAt = '2026-12-01T12:00:00.000Z';
    const t = applySagaStart(saga, { ...input, placedAt });
    assert.deepEqual([t.schedule, t.state.placedAt], [[{ name: 'accept', at: new Date(Date.parse(placedAt) + 60_000) }], placedAt]);
    assert.deepEqual(applySagaStart(saga, input).schedule, [{ name: 'accept', inMs: 60_000 }]);
  });

  test('a reject after a declined charge completes with nothing to refund or cancel', () => {
    const rejected = applySagaEvent(saga, chargeInFlight(), { kind: 'event', event: { type: 'order.rejected', data: {} } });
    const declined = applySagaEvent(saga, { ...chargeInFlight(), ...rejected!, version: 3 }, { kind: 'stepFailed', item: 'charge', error: { code: 'PAYMENT_DECLINED', message: 'declined' }, retry: false });
    assert.deepEqual([declined?.status, declined?.pending], ['completed', []]);
  });

  test("a refused charge of an order that ended after the accept deadline queued `expire`: the refusal is recorded, `expire` runs, and the saga completes (before: SAGA_DEFINITION_INVALID 'cannot complete with steps pending (expire)', parked SAGA_OUTCOME_UNRECORDED)", () => {
    const due = applySagaEvent(saga, chargeInFlight(), { kind: 'event', event: { type: 'deadline.accept' } });
    const queued: SagaInstance<PaymentSagaState> = { ...chargeInFlight(), ...due!, version: 3 };
    assert.deepEqual([queued.pending, queued.state.expiring], [['charge', 'expire'], true]);
    for (const [end, code] of [['order.cancelled', 'PAYMENT_DECLINED'], ['order.rejected', 'PAYMENT_METHOD_MISSING'], ['order.cancelled', 'PAYMENT_METHOD_UNAVAILABLE'], ['order.rejected', 'PAYMENT_REJECTED']] as const) {
      const ended = applySagaEvent(saga, queued, { kind: 'event', event: { type: end, data: { by: 'customer' } } });
      const outcome = end === 'order.cancelled' ? 'cancelled' : 'rejected';
      assert.deepEqual([ended?.status, ended?.pending, ended?.state.outcome], ['running', ['charge', 'expire'], outcome], end);
      const endedAt: SagaInstance<PaymentSagaState> = { ...queued, ...ended!, version: 4 };
      const refused = applySagaEvent(saga, endedAt, { kind: 'stepFailed', item: 'charge', error: { code, message: 'refused' }, retry: false });
      assert.deepEqual([refused?.status, refused?.pending, refused?.completed, refused?.state.chargeFailed, refused?.state.outcome], ['running', ['expire'], ['order'], true, outcome], code);
      const refusedAt: SagaInstance<PaymentSagaState> = { ...endedAt, ...refused!, version: 5 };
      // A redelivered end of the order changes nothing while `expire` runs.
      assert.deepEqual(applySagaEvent(saga, refusedAt, { kind: 'event', event: { type: end, data: {} } })?.pending ?? refusedAt.pending, ['expire'], code);
      // Ordering answers that the order has ended (it cancels nothing): complete, nothing to refund or cancel.
      const expired = applySagaEvent(saga, refusedAt, { kind: 'stepSucceeded', item: 'expire', result: { status: outcome, courierId: null } });
      assert.deepEqual([expired?.status, expired?.pending, expired?.completed, expired?.state.outcome], ['completed', [], ['order', 'expire'], outcome], code);
    }
    // The charge withheld for an ended order (nothing sent) still completes once `expire` ran, as before.
    const ended = applySagaEvent(saga, queued, { kind: 'event', event: { type: 'order.cancelled', data: {} } });
    const withheld = applySagaEvent(saga, { ...queued, ...ended!, version: 4 }, { kind: 'stepSucceeded', item: 'charge', result: { withheld: true, outcome: 'cancelled' } });
    assert.deepEqual([withheld?.status, withheld?.pending], ['running', ['expire']]);
    const done = applySagaEvent(saga, { ...queued, ...withheld!, version: 5 }, { kind: 'stepSucceeded', item: 'expire', result: { status: 'cancelled', courierId: null } });
    assert.deepEqual([done?.status, done?.pending], ['completed', []]);
  });

  test('payouts: the courier fee, and the total less fee and commission to the restaurant', () => {
    assert.deepEqual(payoutsOf({ total: 2000, courierFee: 300 }, {}), { restaurant: 2000 - 300 - 300, courier: 300 });
    assert.deepEqual(payoutsOf({ total: 200, courierFee: 300 }, { commissionRate: 0 }), { restaurant: 0, courier: 200 });
  });

  test('the courier fee is per currency, in its ISO 4217 minor units, and fixed into the state at start (before: 300 whatever the currency: 3.00 EUR, 300 JPY, 0.300 KWD)', () => {
    const feeOf = (currency: string, s = saga) => applySagaStart(s, { ...input, currency }).state.courierFee;
    // The default: 3.00 in a currency of two decimals, 3.000 in one of three, and 500 JPY (3 yen would pay nobody).
    assert.deepEqual(['EUR', 'GBP', 'USD', 'KWD', 'BHD', 'JPY', 'CLF'].map((c) => feeOf(c)), [300, 300, 300, 3000, 3000, 500, 30_000]);
    // Another zero-decimal currency without an entry of its own: 3 of its units (its exponent, not EUR's cents).
    assert.equal(feeOf('KRW'), 3);
    // Payouts of a JPY order: the courier gets the JPY fee, not a EUR order's 300 cents.
    const jpy = applySagaStart(saga, { ...input, total: 1000, currency: 'JPY' }).state;
    assert.deepEqual(payoutsOf(jpy, {}), { restaurant: 1000 - 500 - 150, courier: 500 });
    // A table of the platform's fees, by currency, replaces the default of the currencies it names.
    const configured = paymentSaga(unusedPorts, { acceptWithinMs: 60_000, courierFees: { EUR: 450, KRW: 4000 } });
    assert.deepEqual([feeOf('EUR', configured), feeOf('KRW', configured), feeOf('GBP', configured)], [450, 4000, 300]);
    // An order in flight keeps the fee it started with, whatever the process's table says now.
    const started = applySagaStart(saga, input).state;
    assert.deepEqual(payoutsOf(started, {}).courier, 300);
    // A saga started before the fee was kept in its state pays 300, as it did.
    const { courierFee: _, ...older } = started;
    assert.deepEqual(payoutsOf(older, {}), { restaurant: 2000 - 300 - 300, courier: 300 });
    // A table that would pay a wrong amount is refused when the saga is defined, not at delivery.
    for (const courierFees of [{ EUR: -1 }, { EUR: 2.5 }, { eur: 300 }, { EUR: Number.NaN }] as Array<Record<string, number>>) {
      assert.throws(() => paymentSaga(unusedPorts, { acceptWithinMs: 60_000, courierFees }), (e: unknown) => e instanceof BrigadeError && e.code === 'PAYMENT_COURIER_FEES_INVALID', JSON.stringify(courierFees));
    }
  });
});

describe('a charge that got no answer', () => {
  const key = `${input.orderId}:charge`;
  const authorization: LedgerEntry = { id: 1, movement: 'authorization', objectId: 'ch_lost', chargeId: 'ch_lost', reference: input.orderId, amount: 2000, currency: 'EUR', idempotencyKey: key, createdAt: new Date(0).toISOString() };
  /** The saga's charge action against a provider whose charge and ledger calls are the given functions. */
  const chargeWith = (provider: Pick<PaymentProviderClient, 'charge' | 'ledger'>, attempt = 1, cardFor: PaymentMethods['cardFor'] = async () => '4242424242424242') => {
    const fake = paymentSaga(
      { provider: { ...createPaymentProviderClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1 }), ...provider }, orders: { cancelOrder: async () => undefined, expireOrder: async () => ({ status: 'cancelled', courierId: null }) }, paymentMethods: { cardFor } },
      { acceptWithinMs: 60_000 },
    );
    const state = chargeInFlight().state;
    return fake.steps.charge!.action({ sagaId: input.orderId, tenantId: input.restaurantId, step: 'charge', idempotencyKey: key, state, attempt, signal: new AbortController().signal });
  };

  test('the ledger holds an authorization under its key: the charge succeeded, as that authorization', async () => {
    const result = await chargeWith({ charge: () => Promise.reject(new PaymentProviderTimeoutError(1)), ledger: async () => [{ ...authorization, idempotencyKey: 'other:charge', objectId: 'ch_other' }, authorization] });
    assert.deepEqual(result, { id: 'ch_lost', reference: input.orderId, amount: 2000, currency: 'EUR', status: 'authorized', reconciled: true });
  });

  test('nothing in the ledger, or no ledger either: the failure stands (retried, not a decline)', async () => {
    await assert.rejects(chargeWith({ charge: () => Promise.reject(new PaymentProviderUnavailableError('reset')), ledger: async () => [] }), PaymentProviderUnavailableError);
    let reads = 0;
    const ledgerOnce: PaymentProviderClient['ledger'] = async () => (reads++ === 0 ? [] : Promise.reject(new PaymentProviderUnavailableError('down')));
    await assert.rejects(chargeWith({ charge: () => Promise.reject(new PaymentProviderTimeoutError(1)), ledger: ledgerOnce }), PaymentProviderTimeoutError);
  });

  test('the first attempt asks the ledger too (after a resume or a lease expiry the attempt count says nothing), and sends nothing while the ledger cannot be read', async () => {
    const sent: string[] = [];
    const charge: PaymentProviderClient['charge'] = async (request) => Promise.reject(new Error(`sent with card ${sent.push(request.card)}`));
    assert.equal(((await chargeWith({ charge, ledger: async () => [authorization] }, 1)) as { id: string }).id, 'ch_lost');
    await assert.rejects(chargeWith({ charge, ledger: () => Promise.reject(new PaymentProviderUnavailableError('down')) }, 1), PaymentProviderUnavailableError);
    assert.deepEqual(sent, []);
  });

  test('a ledger read the provider refuses before the charge (429, 401, 408) is an unknown outcome, retried then parked, never "nothing charged"', async () => {
    const sent: string[] = [];
    const charge: PaymentProviderClient['charge'] = async (request) => Promise.reject(new Error(`sent with card ${sent.push(request.card)}`));
    for (const [status, code] of [[429, 'RATE_LIMITED'], [401, 'UNAUTHORIZED'], [408, 'REQUEST_TIMEOUT']] as const) {
      await assert.rejects(
        chargeWith({ charge, ledger: () => Promise.reject(new PaymentRejectedError(status, code, `refused ${status}`)) }, 1),
        (e: unknown) => e instanceof PaymentProviderUnavailableError && e.retryable && e.message.includes(`refused ${status}`),
      );
    }
    assert.deepEqual(sent, []);
    const t = applySagaEvent(saga, chargeInFlight(), { kind: 'stepFailed', item: 'charge', error: { code: 'PAYMENT_PROVIDER_UNAVAILABLE', message: 'ledger could not be read' }, retry: false });
    assert.deepEqual([t?.status, t?.pending, t?.state.chargeFailed], ['parked', ['charge'], false], 'an earlier run may hold an authorization: parked, the order not cancelled');
  });

  test('a retry asks the ledger first: its key authorized, so nothing is sent again (the card on file may have changed since)', async () => {
    const sent: string[] = [];
    const charge: PaymentProviderClient['charge'] = async (request) => Promise.reject(new Error(`sent again with card ${sent.push(request.card)}`));
    assert.equal(((await chargeWith({ charge, ledger: async () => [authorization] }, 2)) as { id: string }).id, 'ch_lost');
    assert.deepEqual(sent, []);
  });

  test('a card on file that cannot be read (its store failed): nothing is sent, and the attempt is retried; for good, it is nothing charged, not an unknown outcome', async () => {
    const sent: string[] = [];
    const charge: PaymentProviderClient['charge'] = async (request) => Promise.reject(new Error(`sent with card ${sent.push(request.card)}`));
    const blip = () => Promise.reject(new Error('Connection terminated unexpectedly'));
    await assert.rejects(chargeWith({ charge, ledger: async () => [] }, 1, blip), (e: unknown) => e instanceof PaymentMethodUnavailableError && e.retryable && /Connection terminated/.test(e.message));
    await assert.rejects(chargeWith({ charge, ledger: async () => [] }, 1, () => Promise.reject(new PaymentMethodMissingError(input.customerId))), PaymentMethodMissingError);
    assert.deepEqual(sent, []);
    const t = applySagaEvent(saga, chargeInFlight(), { kind: 'stepFailed', item: 'charge', error: { code: 'PAYMENT_METHOD_UNAVAILABLE', message: 'could not be read' }, retry: false });
    assert.deepEqual([t?.status, t?.pending, t?.error], ['compensating', ['undo:order'], 'charge failed: could not be read'], 'the ledger had no authorization under the key before the store failed: the order is cancelled, not parked');
  });

  test('after an attempt that timed out, a card removed meanwhile or credentials refused are an unknown outcome: retried, then parked with the key to look up in the ledger; the order is not cancelled (before: failed, the order cancelled, and the first attempt\'s authorization, landing later, never refunded)', async () => {
    const sent: string[] = [];
    const timedOut: PaymentProviderClient['charge'] = async (request) => (sent.push(request.card), Promise.reject(new PaymentProviderTimeoutError(1)));
    const ledger = async () => [] as LedgerEntry[]; // attempt 1's request is still being processed: nothing committed yet
    const removed: PaymentMethods['cardFor'] = () => Promise.reject(new PaymentMethodMissingError(input.customerId));
    // Attempt 1 times out: it may have been sent.
    await assert.rejects(chargeWith({ charge: timedOut, ledger }, 1), PaymentProviderTimeoutError);
    // Attempt 2 finds no card on file (the customer just removed it): not "nothing charged".
    let failure: unknown;
    await assert.rejects(chargeWith({ charge: timedOut, ledger }, 2, removed), (e: unknown) => ((failure = e), true));
    const unknown = failure as BrigadeError & { retryable?: boolean };
    assert.deepEqual([unknown.code, unknown.retryable], ['PAYMENT_CHARGE_OUTCOME_UNKNOWN', true], String(unknown));
    assert.match(unknown.message, /^attempt 2 sent nothing \(PAYMENT_METHOD_MISSING: .*\), but an earlier attempt under key .*:charge failed first and may still authorize/);
    // The platform's credentials refused on attempt 2: the provider did not look at the key either.
    const refused: PaymentProviderClient['charge'] = async () => Promise.reject(new PaymentProviderCredentialsError(401, "The payment provider refused the platform's credentials (401: bad key)"));
    await assert.rejects(chargeWith({ charge: refused, ledger }, 2), (e: unknown) => e instanceof BrigadeError && e.code === 'PAYMENT_CHARGE_OUTCOME_UNKNOWN' && /PAYMENT_PROVIDER_CREDENTIALS/.test(e.message));
    // On a first attempt both stay what they were (the ledger was read first and held nothing).
    await assert.rejects(chargeWith({ charge: timedOut, ledger }, 1, removed), PaymentMethodMissingError);
    await assert.rejects(chargeWith({ charge: refused, ledger }, 1), PaymentProviderCredentialsError);
    assert.deepEqual(sent, ['4242424242424242'], 'only attempt 1 sent');
    // Failed for good that way: parked, never failed.
    const t = applySagaEvent(saga, chargeInFlight(), { kind: 'stepFailed', item: 'charge', error: { code: unknown.code, message: unknown.message }, retry: false });
    assert.deepEqual([t?.status, t?.pending, t?.completed, t?.state.chargeFailed], ['parked', ['charge'], ['order'], false]);
    assert.match(t?.error ?? '', new RegExp(`before closing, look reference ${input.orderId} up in the provider's ledger\\. An authorization under key ${input.orderId}:charge means the customer was charged`));
    assert.doesNotMatch(t?.error ?? '', /nothing was charged\./);
  });

  test("after an attempt that timed out, a 4xx the provider keeps under no key (409 key in use, 404, 400, 410) is an unknown outcome: retried, then parked; a 402 or 422 stays a refusal (before: 409 failed the saga, the order was cancelled, and the first attempt's authorization never refunded)", async () => {
    const sent: string[] = [];
    const ledger = async () => [] as LedgerEntry[]; // attempt 1's request is still being processed: nothing committed yet
    const answering = (error: Error): PaymentProviderClient['charge'] => async (request) => (sent.push(request.card), Promise.reject(error));
    // Attempt 1 times out while the provider still processes it.
    await assert.rejects(chargeWith({ charge: answering(new PaymentProviderTimeoutError(1)), ledger }, 1), PaymentProviderTimeoutError);
    // Attempt 2 finds nothing in the ledger yet, and the provider answers 409: a request with that key is in progress (Stripe's answer).
    let failure: unknown;
    await assert.rejects(chargeWith({ charge: answering(new PaymentRejectedError(409, 'IDEMPOTENCY_KEY_IN_USE', 'There is currently another in-progress request using this Idempotency Key')), ledger }, 2), (e: unknown) => ((failure = e), true));
    const unknown = failure as BrigadeError & { retryable?: boolean };
    assert.deepEqual([unknown.code, unknown.retryable], ['PAYMENT_CHARGE_OUTCOME_UNKNOWN', true], String(unknown));
    assert.match(unknown.message, /^attempt 2 was refused with 409, which the provider keeps under no key \(PAYMENT_REJECTED: .*\), but an earlier attempt under key .*:charge failed first and may still authorize/);
    // Failed for good that way: parked with the key to look up, the order not cancelled.
    const t = applySagaEvent(saga, chargeInFlight(), { kind: 'stepFailed', item: 'charge', error: { code: unknown.code, message: unknown.message }, retry: false });
    assert.deepEqual([t?.status, t?.pending, t?.completed, t?.state.chargeFailed], ['parked', ['charge'], ['order'], false]);
    // The same for any other 4xx the provider does not store as its answer to the key.
    for (const [status, code] of [[404, 'NOT_FOUND'], [400, 'BAD_REQUEST'], [410, 'GONE']] as const) {
      await assert.rejects(chargeWith({ charge: answering(new PaymentRejectedError(status, code, `refused ${status}`)), ledger }, 2), (e: unknown) => e instanceof BrigadeError && e.code === 'PAYMENT_CHARGE_OUTCOME_UNKNOWN', String(status));
    }
    // A refusal the provider keeps under the key is its answer to attempt 1's request too: nothing charged.
    await assert.rejects(chargeWith({ charge: answering(new PaymentRejectedError(422, 'AMOUNT_TOO_LARGE', 'too large')), ledger }, 2), (e: unknown) => e instanceof PaymentRejectedError && e.code === 'PAYMENT_REJECTED');
    await assert.rejects(chargeWith({ charge: answering(new PaymentDeclinedError('declined')), ledger }, 2), PaymentDeclinedError);
    // On a first attempt (the ledger read first, nothing under the key) a refusal stays one.
    await assert.rejects(chargeWith({ charge: answering(new PaymentRejectedError(410, 'GONE', 'gone')), ledger }, 1), PaymentRejectedError);
  });

  test("an authorization under its key of another amount or currency is not the charge: PAYMENT_PROVIDER_ANSWER_INVALID naming both, before sending and after no answer; nothing is sent, and the saga parks (before: a 1 USD authorization was taken as the order's 2000 EUR charge)", async () => {
    const sent: string[] = [];
    const charge: PaymentProviderClient['charge'] = async (request) => (sent.push(request.card), Promise.reject(new PaymentProviderTimeoutError(1)));
    const differs = (e: unknown) =>
      e instanceof PaymentProviderAnswerInvalidError &&
      e.retryable &&
      e.message.includes(`holds an authorization under key ${key} (ch_lost) of 1 USD, not the 2000 EUR asked for`) &&
      e.message.includes(`Look key ${key} up in its ledger`);
    // Found before sending: nothing is sent.
    await assert.rejects(chargeWith({ charge, ledger: async () => [{ ...authorization, amount: 1, currency: 'USD' }] }, 1), differs);
    assert.deepEqual(sent, []);
    // Found after an answer that did not come: not taken either.
    let reads = 0;
    const landsLate: PaymentProviderClient['ledger'] = async () => (reads++ === 0 ? [] : [{ ...authorization, amount: 1, currency: 'USD' }]);
    await assert.rejects(chargeWith({ charge, ledger: landsLate }, 1), differs);
    assert.equal(sent.length, 1);
    // The amount alone, or the currency alone, differs: refused the same way.
    await assert.rejects(chargeWith({ charge, ledger: async () => [{ ...authorization, amount: 1999 }] }, 2), PaymentProviderAnswerInvalidError);
    await assert.rejects(chargeWith({ charge, ledger: async () => [{ ...authorization, currency: 'USD' }] }, 2), PaymentProviderAnswerInvalidError);
    // Failed for good so (retried first: each attempt reads the same entry): parked with both amounts in the reason, the order not cancelled.
    let failure: BrigadeError | undefined;
    await assert.rejects(chargeWith({ charge, ledger: async () => [{ ...authorization, amount: 1, currency: 'USD' }] }, 1), (e: unknown) => ((failure = e as BrigadeError), true));
    const t = applySagaEvent(saga, chargeInFlight(), { kind: 'stepFailed', item: 'charge', error: { code: failure!.code, message: failure!.message }, retry: false });
    assert.deepEqual([t?.status, t?.pending, t?.state.chargeId, t?.state.chargeFailed], ['parked', ['charge'], null, false]);
    assert.match(t?.error ?? '', /of 1 USD, not the 2000 EUR asked for/);
  });

  test("each provider call of the charge carries the step's signal, so a runner's stop abandons it at once", async () => {
    const seen: Array<AbortSignal | undefined> = [];
    const ledger: PaymentProviderClient['ledger'] = async (_filter, signal) => (seen.push(signal), []);
    const charge: PaymentProviderClient['charge'] = async (request, _key, signal) => (seen.push(signal), { id: 'ch_1', reference: request.reference, cardLast4: '4242', amount: request.amount, currency: request.currency, status: 'authorized' as const, refundedAmount: 0 });
    const fake = paymentSaga(
      { provider: { ...createPaymentProviderClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1 }), charge, ledger }, orders: { cancelOrder: async () => undefined, expireOrder: async () => ({ status: 'cancelled', courierId: null }) }, paymentMethods: { cardFor: async () => '4242424242424242' } },
      { acceptWithinMs: 60_000 },
    );
    const signal = new AbortController().signal;
    await fake.steps.charge!.action({ sagaId: input.orderId, tenantId: input.restaurantId, step: 'charge', idempotencyKey: key, state: chargeInFlight().state, attempt: 1, signal });
    assert.deepEqual(seen, [signal, signal]);
  });

  test('still no answer on the last attempt: the saga is parked for a person, the order is not cancelled and nothing is refunded', () => {
    const t = applySagaEvent(saga, chargeInFlight(), { kind: 'stepFailed', item: 'charge', error: { code: 'PAYMENT_PROVIDER_TIMEOUT', message: 'no answer within 2000 ms' }, retry: false });
    assert.deepEqual([t?.status, t?.pending, t?.completed, t?.state.chargeFailed], ['parked', ['charge'], ['order'], false]);
    assert.match(t?.error ?? '', /whether the card was charged \(PAYMENT_PROVIDER_TIMEOUT: no answer within 2000 ms\)\. Once the payment provider answers, 'brigade sagas resume 00000000-0000-4000-8000-000000000001' charges again: .* look up reference 00000000-0000-4000-8000-000000000001 in the provider's ledger/);
  });
});

describe('answers the charge cannot trust (a review found each moving money wrongly)', () => {
  test("a 2xx that is not the charge asked for, with nothing under the key in the ledger: retried as an unknown outcome, then parked; never 'charged'", async () => {
    const fake = paymentSaga(
      {
        provider: { ...createPaymentProviderClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1 }), charge: () => Promise.reject(new PaymentProviderAnswerInvalidError('answered 201 and a charge without an id')), ledger: async () => [] },
        orders: { cancelOrder: async () => undefined, expireOrder: async () => ({ status: 'cancelled', courierId: null }) },
        paymentMethods: { cardFor: async () => '4242424242424242' },
      },
      { acceptWithinMs: 60_000 },
    );
    const state = chargeInFlight().state;
    await assert.rejects(fake.steps.charge!.action({ sagaId: input.orderId, tenantId: input.restaurantId, step: 'charge', idempotencyKey: `${input.orderId}:charge`, state, attempt: 1, signal: new AbortController().signal }), (e: unknown) => e instanceof PaymentProviderAnswerInvalidError && e.retryable);
    const t = applySagaEvent(saga, chargeInFlight(), { kind: 'stepFailed', item: 'charge', error: { code: 'PAYMENT_PROVIDER_ANSWER_INVALID', message: 'a charge without an id' }, retry: false });
    assert.deepEqual([t?.status, t?.state.chargeFailed], ['parked', false]);
  });

  test('a delivered order whose saga holds no charge of a total above 0: capture fails for good (and the saga parks) instead of paying out what nobody paid', async () => {
    const capture = saga.steps.capture!;
    const ctx = (total: number) => ({ sagaId: input.orderId, tenantId: input.restaurantId, step: 'capture', idempotencyKey: `${input.orderId}:capture`, state: { ...chargeInFlight().state, total, chargeId: null, charged: true, outcome: 'delivered' as const }, attempt: 1, signal: new AbortController().signal });
    await assert.rejects(capture.action(ctx(2000)), (e: unknown) => e instanceof BrigadeError && e.code === 'PAYMENT_CHARGE_MISSING' && capture.retryable?.(e) === false);
    assert.equal(await capture.action(ctx(0)), null, 'a total of 0 has nothing to capture');
  });

  test("the provider refuses the platform's credentials (401, 403): the saga parks saying so; the order is not cancelled (before: every order placed meanwhile was)", () => {
    const t = applySagaEvent(saga, chargeInFlight(), { kind: 'stepFailed', item: 'charge', error: { code: 'PAYMENT_PROVIDER_CREDENTIALS', message: "The payment provider refused the platform's credentials (401: bad key)" }, retry: false });
    assert.deepEqual([t?.status, t?.pending, t?.state.chargeFailed], ['parked', ['charge'], false]);
    assert.match(t?.error ?? '', /credentials .*nothing was charged\. .*brigade sagas resume/);
  });
});

describe('a payout of a delivered order that fails for good', () => {
  test('parks the saga with the payouts left to make, instead of refunding and cancelling a delivered order', () => {
    const delivered: SagaInstance<PaymentSagaState> = {
      ...chargeInFlight(),
      state: { ...chargeInFlight().state, chargeId: 'ch_1', courierId: 'k1', outcome: 'delivered' },
      pending: ['payoutRestaurant', 'payoutCourier'],
      completed: ['order', 'charge', 'capture'],
    };
    const t = applySagaEvent(saga, delivered, { kind: 'stepFailed', item: 'payoutRestaurant', error: { code: 'PAYMENT_PROVIDER_TIMEOUT', message: 'no answer' }, retry: false });
    assert.deepEqual([t?.status, t?.pending, t?.completed], ['parked', ['payoutRestaurant', 'payoutCourier'], ['order', 'charge', 'capture']]);
    assert.match(t?.error ?? '', /does what is left: pay 1400 EUR out to restaurant .* \(key .*:payoutRestaurant\), then pay 300 EUR out to courier k1 \(key .*:payoutCourier\);/);
    const courierOnly = applySagaEvent(saga, { ...delivered, pending: ['payoutCourier'], completed: [...delivered.completed, 'payoutRestaurant'] }, { kind: 'stepFailed', item: 'payoutCourier', error: { code: 'X', message: 'no' }, retry: false });
    assert.deepEqual([courierOnly?.status, courierOnly?.pending], ['parked', ['payoutCourier']]);
    assert.match(courierOnly?.error ?? '', /does what is left: pay 300 EUR out to courier k1 \(key .*:payoutCourier\);/);
  });
});

describe('the capture, the refund and the payouts ask the ledger when no answer says what their key did (found by a review: they parked as failed for good though the money had moved)', () => {
  type Provider = Partial<PaymentProviderClient>;
  const delivered = { ...chargeInFlight().state, chargeId: 'ch_1', charged: true, courierId: 'k1', outcome: 'delivered' as const };
  const entry = (movement: LedgerEntry['movement'], idempotencyKey: string, amount: number, reference = input.orderId): LedgerEntry =>
    ({ id: 1, movement, objectId: `${movement}_1`, chargeId: 'ch_1', reference, amount, currency: 'EUR', idempotencyKey, createdAt: new Date(0).toISOString() });
  /** Runs `step`'s action (or the charge's compensation, `undo`) against a provider whose calls are the given ones. */
  const run = (provider: Provider, step: string, undo = false) => {
    const fake = paymentSaga(
      { provider: { ...createPaymentProviderClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1 }), ...provider }, orders: { cancelOrder: async () => undefined, expireOrder: async () => ({ status: 'cancelled', courierId: null }) }, paymentMethods: { cardFor: async () => '4242424242424242' } },
      { acceptWithinMs: 60_000 },
    );
    const spec = fake.steps[step]!;
    const ctx = { sagaId: input.orderId, tenantId: input.restaurantId, step, idempotencyKey: `${input.orderId}:${step}${undo ? ':compensate' : ''}`, state: delivered, attempt: 1, signal: new AbortController().signal };
    return { act: () => (undo ? spec.compensate!(ctx) : spec.action(ctx)), retryable: (e: unknown) => spec.retryable?.(e) ?? (e as { retryable?: unknown }).retryable === true };
  };
  const lost = () => Promise.reject(new PaymentProviderTimeoutError(1500));
  /** The provider's answer to a void of a charge captured already: refunded instead. */
  const notVoidable = () => Promise.reject(new PaymentRejectedError(422, 'CHARGE_NOT_VOIDABLE', 'Charge ch_1 is captured', 'captured'));
  const restaurant = `restaurant:${input.restaurantId}`;

  test('an entry under the step\'s key (of the amount and currency asked) is the step done; one under another key is not', async () => {
    const key = (step: string) => `${input.orderId}:${step}`;
    const readBy: string[] = [];
    const askedFor: string[] = [];
    const ledger = (entries: LedgerEntry[]): PaymentProviderClient['ledger'] => async (filter) => (readBy.push(String(filter?.reference)), askedFor.push(`${String(filter?.movement)} ${String(filter?.idempotencyKey)}`), entries);
    assert.deepEqual(await run({ capture: lost, ledger: ledger([entry('capture', key('capture'), 2000)]) }, 'capture').act(), { id: 'ch_1', reference: input.orderId, amount: 2000, currency: 'EUR', status: 'captured', reconciled: true });
    // A captured charge (the void refused): the refund's answer lost. An authorized one: the void's answer lost.
    assert.deepEqual(await run({ void: notVoidable, refund: lost, ledger: ledger([entry('refund', key('refund'), 2000)]) }, 'refund').act(), { refunded: true, refundId: 'refund_1', amount: 2000, reconciled: true });
    assert.deepEqual(await run({ void: lost, ledger: ledger([entry('void', key('refund:void'), 2000)]) }, 'refund').act(), { refunded: false, voided: true, voidId: 'void_1', amount: 2000, reconciled: true });
    // The compensation's refund, under its own key.
    assert.deepEqual(await run({ void: notVoidable, refund: lost, ledger: ledger([entry('refund', key('charge:compensate'), 2000)]) }, 'charge', true).act(), { refunded: true, refundId: 'refund_1', amount: 2000, reconciled: true });
    // A payout is looked up by its destination (one of another amount is refused: see the next test).
    assert.deepEqual(await run({ payout: lost, ledger: ledger([entry('payout', key('payoutRestaurant'), 1400, restaurant)]) }, 'payoutRestaurant').act(), { id: 'payout_1', destination: restaurant, amount: 1400, currency: 'EUR', reconciled: true });
    assert.deepEqual(readBy, [input.orderId, input.orderId, input.orderId, input.orderId, restaurant]);
    // Each lookup asks for its key and movement (a provider that knows the filter answers those entries only: found by a review, a payout read its destination's whole history).
    assert.deepEqual(askedFor, [`capture ${key('capture')}`, `refund ${key('refund')}`, `void ${key('refund:void')}`, `refund ${key('charge:compensate')}`, `payout ${key('payoutRestaurant')}`]);
    // Another key's refund (the compensation's), or another movement under the key, is not this step's.
    await assert.rejects(run({ void: notVoidable, refund: lost, ledger: ledger([entry('refund', key('charge:compensate'), 2000), entry('capture', key('refund'), 2000)]) }, 'refund').act(), { code: 'PAYMENT_OUTCOME_UNKNOWN' });
  });

  test('nothing under the key, or no ledger: PAYMENT_OUTCOME_UNKNOWN saying which, with the key and the reference; retried, except after a key refused as changed', async () => {
    let failure: (BrigadeError & { retryable?: boolean }) | undefined;
    const keep = (e: unknown) => ((failure = e as BrigadeError), true);
    const payout = run({ payout: lost, ledger: async () => [] }, 'payoutRestaurant');
    await assert.rejects(payout.act(), keep);
    assert.deepEqual([failure?.code, failure?.retryable, payout.retryable(failure)], ['PAYMENT_OUTCOME_UNKNOWN', true, true]);
    assert.equal(
      failure?.message,
      `no answer says whether the payout of 1400 EUR to ${restaurant} (key ${input.orderId}:payoutRestaurant) was made (PAYMENT_PROVIDER_TIMEOUT: The payment provider did not answer within 1500 ms; retry with the same idempotency key); ` +
        `the provider's ledger held no payout under key ${input.orderId}:payoutRestaurant (reference ${restaurant}) when asked after it`,
    );
    await assert.rejects(run({ capture: lost, ledger: () => Promise.reject(new PaymentProviderUnavailableError('ledger down')) }, 'capture').act(), keep);
    assert.equal(failure?.code, 'PAYMENT_OUTCOME_UNKNOWN');
    assert.match(failure?.message ?? '', new RegExp(`^no answer says whether the capture of charge ch_1 \\(key ${input.orderId}:capture\\) was made \\(PAYMENT_PROVIDER_TIMEOUT: .*\\); the provider's ledger could not be read to tell \\(ledger down\\): look key ${input.orderId}:capture up under reference ${input.orderId}$`));
    // A key refused as changed: the same body would be refused again, so the step parks at once (still asking the ledger first).
    const changed = run({ void: notVoidable, refund: () => Promise.reject(new PaymentRequestChangedError(`${input.orderId}:refund`, 'refused')), ledger: async () => [] }, 'refund');
    await assert.rejects(changed.act(), keep);
    assert.deepEqual([failure?.code, changed.retryable(failure)], ['PAYMENT_OUTCOME_UNKNOWN', false]);
    const foundAnyway = run({ void: notVoidable, refund: () => Promise.reject(new PaymentRequestChangedError(`${input.orderId}:refund`, 'refused')), ledger: async () => [entry('refund', `${input.orderId}:refund`, 2000)] }, 'refund');
    assert.deepEqual(await foundAnyway.act(), { refunded: true, refundId: 'refund_1', amount: 2000, reconciled: true });
  });

  test("an entry under the step's key of another amount or currency is not the step done: PAYMENT_PROVIDER_ANSWER_INVALID naming both, and the step parks (before: its amount was taken as it was, and the payouts were computed from the order's total)", async () => {
    const key = (step: string) => `${input.orderId}:${step}`;
    const differs = (movement: string, k: string, found: string, asked: string) => (e: unknown) =>
      e instanceof PaymentProviderAnswerInvalidError && e.message.includes(`holds a ${movement} under key ${k} (${movement}_1) of ${found}, not the ${asked} asked for`);
    const usd = (e: LedgerEntry): LedgerEntry => ({ ...e, currency: 'USD' });
    await assert.rejects(run({ capture: lost, ledger: async () => [entry('capture', key('capture'), 1)] }, 'capture').act(), differs('capture', key('capture'), '1 EUR', '2000 EUR'));
    await assert.rejects(run({ capture: lost, ledger: async () => [usd(entry('capture', key('capture'), 2000))] }, 'capture').act(), differs('capture', key('capture'), '2000 USD', '2000 EUR'));
    await assert.rejects(run({ void: lost, ledger: async () => [entry('void', key('refund:void'), 1)] }, 'refund').act(), differs('void', key('refund:void'), '1 EUR', '2000 EUR'));
    await assert.rejects(run({ void: notVoidable, refund: lost, ledger: async () => [entry('refund', key('refund'), 1)] }, 'refund').act(), differs('refund', key('refund'), '1 EUR', '2000 EUR'));
    await assert.rejects(run({ void: notVoidable, refund: lost, ledger: async () => [entry('refund', key('charge:compensate'), 1)] }, 'charge', true).act(), differs('refund', key('charge:compensate'), '1 EUR', '2000 EUR'));
    await assert.rejects(run({ payout: lost, ledger: async () => [entry('payout', key('payoutRestaurant'), 1390, restaurant)] }, 'payoutRestaurant').act(), differs('payout', key('payoutRestaurant'), '1390 EUR', '1400 EUR'));
    await assert.rejects(run({ payout: lost, ledger: async () => [usd(entry('payout', key('payoutCourier'), 300, `courier:k1`))] }, 'payoutCourier').act(), differs('payout', key('payoutCourier'), '300 USD', '300 EUR'));
    // Failed for good so: the delivered order's saga parks with both amounts, nothing paid out on them.
    let failure: BrigadeError | undefined;
    await assert.rejects(run({ capture: lost, ledger: async () => [entry('capture', key('capture'), 1)] }, 'capture').act(), (e: unknown) => ((failure = e as BrigadeError), true));
    const capturing: SagaInstance<PaymentSagaState> = { ...chargeInFlight(), state: delivered, pending: ['capture', 'payoutRestaurant', 'payoutCourier'], completed: ['order', 'charge'] };
    const t = applySagaEvent(saga, capturing, { kind: 'stepFailed', item: 'capture', error: { code: failure!.code, message: failure!.message }, retry: false });
    assert.deepEqual([t?.status, t?.pending], ['parked', ['capture', 'payoutRestaurant', 'payoutCourier']]);
    assert.match(t?.error ?? '', /of 1 EUR, not the 2000 EUR asked for/);
  });

  test("the capture, the void, the refund and the payouts carry the step's signal to the provider, their ledger reads too", async () => {
    const seen: string[] = [];
    const signal = new AbortController().signal;
    const mark = (what: string) => (...args: unknown[]) => (seen.push(`${what} ${String(args.at(-1) === signal)}`), Promise.reject(new PaymentProviderTimeoutError(1)));
    const ledger: PaymentProviderClient['ledger'] = async (_filter, s) => (seen.push(`ledger ${String(s === signal)}`), []);
    const fake = paymentSaga(
      { provider: { ...createPaymentProviderClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1 }), capture: mark('capture'), void: mark('void'), refund: mark('refund'), payout: mark('payout'), ledger }, orders: { cancelOrder: async () => undefined, expireOrder: async () => ({ status: 'cancelled', courierId: null }) }, paymentMethods: { cardFor: async () => '4242424242424242' } },
      { acceptWithinMs: 60_000 },
    );
    for (const step of ['capture', 'refund', 'payoutRestaurant']) {
      await assert.rejects(fake.steps[step]!.action({ sagaId: input.orderId, tenantId: input.restaurantId, step, idempotencyKey: `${input.orderId}:${step}`, state: delivered, attempt: 1, signal }), { code: 'PAYMENT_OUTCOME_UNKNOWN' });
    }
    assert.deepEqual(seen, ['capture true', 'ledger true', 'void true', 'ledger true', 'payout true', 'ledger true']);
  });

  test('a refusal the provider keeps under the key is thrown as it is, without reading the ledger', async () => {
    const unread = () => Promise.reject(new Error('the ledger is not read for a refusal'));
    await assert.rejects(run({ void: notVoidable, refund: () => Promise.reject(new PaymentRejectedError(422, 'REFUND_EXCEEDS_CHARGE', 'too much')), ledger: unread }, 'refund').act(), PaymentRejectedError);
  });

  test('parked on an unknown outcome, the reason says what is unknown and what to look up, not "failed for good"; a refusal still says failed for good', () => {
    const message = `no answer says whether the refund of charge ch_1 (key ${input.orderId}:refund) was made (PAYMENT_PROVIDER_TIMEOUT: no answer); the provider's ledger held no refund under key ${input.orderId}:refund (reference ${input.orderId}) when asked after it`;
    const refunding: SagaInstance<PaymentSagaState> = { ...chargeInFlight(), state: { ...delivered, outcome: 'cancelled' }, pending: ['refund'], completed: ['order', 'charge'] };
    const t = applySagaEvent(saga, refunding, { kind: 'stepFailed', item: 'refund', error: { code: 'PAYMENT_OUTCOME_UNKNOWN', message }, retry: false });
    assert.deepEqual([t?.status, t?.pending], ['parked', ['refund']]);
    assert.equal(
      t?.error,
      `refund of the cancelled order: ${message}; the order needs nothing more. ` +
        `Look that key up in the provider's ledger again (the request may have landed after the saga asked): a refund under it means the customer was refunded, and a resume finds it there and goes on; none means the money did not move. ` +
        `Once the payment provider answers, 'brigade sagas resume ${input.orderId}' voids charge ch_1 if it is only authorized (key ${input.orderId}:refund:void), else refunds it in full (key ${input.orderId}:refund); ` +
        `each key moves the money once however often it is sent. Or do it by hand under those keys, then 'brigade sagas close ${input.orderId} --reason "what you did"'`,
    );
    const refused = applySagaEvent(saga, refunding, { kind: 'stepFailed', item: 'refund', error: { code: 'PAYMENT_REJECTED', message: 'charge ch_1 is declined' }, retry: false });
    assert.match(refused?.error ?? '', /^refund of the cancelled order failed for good \(PAYMENT_REJECTED: charge ch_1 is declined\)/);
    const paying: SagaInstance<PaymentSagaState> = { ...chargeInFlight(), state: delivered, pending: ['payoutCourier'], completed: ['order', 'charge', 'capture', 'payoutRestaurant'] };
    const payout = applySagaEvent(saga, paying, { kind: 'stepFailed', item: 'payoutCourier', error: { code: 'PAYMENT_OUTCOME_UNKNOWN', message: 'no answer says whether the payout …' }, retry: false });
    assert.match(payout?.error ?? '', /^payoutCourier of the delivered order: no answer says whether the payout …; nothing was refunded\. Look that key up .*a payout under it means the courier was paid.*does what is left: pay 300 EUR out to courier k1/);
  });
});

describe('a charge refused after the order was delivered (found by a review)', () => {
  const courier = '00000000-0000-4000-8000-0000000000c1';
  type I = SagaInstance<PaymentSagaState>;
  const step = (i: I, event: Parameters<typeof applySagaEvent>[2]): I => {
    const t = applySagaEvent(saga, i, event);
    assert.ok(t, `${event.kind} applies`);
    return { ...i, ...t, version: i.version + 1 };
  };
  /** As resumeSaga leaves it: running, the head from its first attempt, the error from before the park. */
  const resume = (i: I): I => ({ ...i, status: 'running', attempts: 0, error: i.errorBeforePark, errorBeforePark: null });
  /** The charge got no answer and parked; meanwhile the order was accepted, assigned and delivered; a person resumed it. */
  const resumedAfterDelivery = (): I => {
    let i = step(chargeInFlight(), { kind: 'stepFailed', item: 'charge', error: { code: 'PAYMENT_PROVIDER_TIMEOUT', message: 'no answer' }, retry: false });
    assert.deepEqual([i.status, i.pending], ['parked', ['charge']]);
    i = step(i, { kind: 'event', event: { type: 'order.accepted', data: {} } });
    i = step(i, { kind: 'event', event: { type: 'courier.assigned', data: { courierId: courier, assignment: 1 } } });
    i = step(i, { kind: 'event', event: { type: 'order.delivered', data: { courierId: courier } } });
    assert.deepEqual([i.status, i.pending, i.state.outcome], ['parked', ['charge'], 'delivered']);
    return resume(i);
  };

  test('declined: the saga parks, saying the order was delivered and nothing charged; the order is not cancelled (before: undo:order, refused by ordering, and the saga failed)', () => {
    const t = applySagaEvent(saga, resumedAfterDelivery(), { kind: 'stepFailed', item: 'charge', error: { code: 'PAYMENT_DECLINED', message: 'The card ending 0002 was declined' }, retry: false });
    assert.deepEqual([t?.status, t?.pending, t?.completed, t?.state.outcome, t?.state.chargeFailed], ['parked', ['charge'], ['order'], 'delivered', false]);
    assert.match(
      t?.error ?? '',
      new RegExp(
        `^charge: order ${input.orderId} was delivered, nothing charged \\(PAYMENT_DECLINED: The card ending 0002 was declined\\)\\. A delivered order is not cancelled, .*` +
          `The provider keeps its refusal under key ${input.orderId}:charge .*collect the 2000 EUR from the customer another way .*` +
          `pay 1400 EUR out to restaurant .*then pay 300 EUR out to courier ${courier} .*'brigade sagas close ${input.orderId} --reason`,
      ),
    );
    // A refusal the provider stores under the key is not worth a resume; the reason does not offer one.
    assert.doesNotMatch(t?.error ?? '', /brigade sagas resume/);
  });

  test('no card on file (nothing sent under the key): the park says a resume charges once there is a card, and that charge captures and pays out', () => {
    const i = resumedAfterDelivery();
    const parked = step(i, { kind: 'stepFailed', item: 'charge', error: { code: 'PAYMENT_METHOD_MISSING', message: 'no card on file' }, retry: false });
    assert.deepEqual([parked.status, parked.pending], ['parked', ['charge']]);
    assert.match(parked.error ?? '', new RegExp(`was delivered, nothing charged \\(PAYMENT_METHOD_MISSING: no card on file\\)\\. .*Once the customer has a card on file that can be read, 'brigade sagas resume ${input.orderId}' charges it`));
    const charged = applySagaEvent(saga, resume(parked), { kind: 'stepSucceeded', item: 'charge', result: { id: 'ch_1' } });
    assert.deepEqual([charged?.status, charged?.pending, charged?.state.chargeId], ['running', ['capture', 'payoutRestaurant', 'payoutCourier'], 'ch_1']);
  });

  test("no answer says whether the card was charged (a timeout, an unknown outcome), the order delivered meanwhile: the park names the capture under its key, then both payouts with theirs, and no cancel; a resume does all of it (before: 'capture it … then close', payouts named nowhere, and a cancel ordering refuses)", () => {
    const id = input.orderId;
    for (const code of ['PAYMENT_PROVIDER_TIMEOUT', 'PAYMENT_CHARGE_OUTCOME_UNKNOWN']) {
      const t = applySagaEvent(saga, resumedAfterDelivery(), { kind: 'stepFailed', item: 'charge', error: { code, message: 'no answer' }, retry: false });
      assert.deepEqual([t?.status, t?.pending, t?.state.outcome], ['parked', ['charge'], 'delivered'], code);
      const reason = t?.error ?? '';
      assert.match(reason, new RegExp(`order ${id} was delivered`), code);
      assert.match(reason, new RegExp(`'brigade sagas resume ${id}' .*then captures it and pays the restaurant and the courier out`), code);
      assert.match(
        reason,
        new RegExp(`authorization under key ${id}:charge means the customer was charged: capture it \\(key ${id}:capture\\), then pay 1400 EUR out to restaurant ${input.restaurantId} \\(key ${id}:payoutRestaurant\\), then pay 300 EUR out to courier ${courier} \\(key ${id}:payoutCourier\\)`),
        code,
      );
      assert.match(reason, /none means nothing was charged: collect the 2000 EUR from the customer another way/, code);
      assert.doesNotMatch(reason, /cancel the order|refund it/, code);
    }
    // The platform's credentials refused on a first attempt: nothing was charged; no cancel either.
    const refused = applySagaEvent(saga, resumedAfterDelivery(), { kind: 'stepFailed', item: 'charge', error: { code: 'PAYMENT_PROVIDER_CREDENTIALS', message: "The payment provider refused the platform's credentials (401: bad key)" }, retry: false });
    assert.equal(refused?.status, 'parked');
    assert.match(refused?.error ?? '', new RegExp(`was delivered, nothing charged .*'brigade sagas resume ${id}' charges it under key ${id}:charge, then captures it and pays out; or collect the 2000 EUR`));
    assert.doesNotMatch(refused?.error ?? '', /cancel the order/);
    // Not delivered: the reasons are as they were (refund and cancel are right for an open order).
    const open = applySagaEvent(saga, chargeInFlight(), { kind: 'stepFailed', item: 'charge', error: { code: 'PAYMENT_PROVIDER_TIMEOUT', message: 'no answer' }, retry: false });
    assert.match(open?.error ?? '', /capture it if the order was delivered, else refund it and cancel the order/);
  });

  test('an order not delivered still fails on a decline, and the saga cancels it', () => {
    const t = applySagaEvent(saga, chargeInFlight(), { kind: 'stepFailed', item: 'charge', error: { code: 'PAYMENT_DECLINED', message: 'declined' }, retry: false });
    assert.deepEqual([t?.status, t?.pending, t?.state.chargeFailed], ['compensating', ['undo:order'], true]);
  });
});

describe('courier assignments', () => {
  test('the courier paid is the latest assignment by its number, not the last to arrive; unnumbered ones apply as they come', () => {
    const assign = (i: SagaInstance<PaymentSagaState>, courierId: string, assignment?: number) =>
      applySagaEvent(saga, i, { kind: 'event', event: { type: 'courier.assigned', data: { orderId: input.orderId, courierId, ...(assignment === undefined ? {} : { assignment }) } } });
    const running = { ...chargeInFlight(), pending: [] };
    const third = assign(running, 'k3', 3)!;
    const late = assign({ ...running, state: third.state }, 'k2', 2);
    assert.deepEqual([late?.state.courierId, late?.state.courierAssignment], ['k3', 3], 'assignment 2 arrived after 3: ignored');
    assert.equal(assign({ ...running, state: third.state }, 'k4', 4)?.state.courierId, 'k4');
    assert.equal(assign({ ...running, state: third.state }, 'k1')?.state.courierId, 'k1', 'an unnumbered one applies');
  });

  test("the courier paid is the one OrderDelivered names, even when the CourierAssigned comes after it (before: nobody was paid)", () => {
    const landed = { ...chargeInFlight(), pending: [], completed: ['order', 'charge'], state: { ...chargeInFlight().state, chargeId: 'ch_1', charged: true } };
    const delivered = applySagaEvent(saga, landed, { kind: 'event', event: { type: 'order.delivered', data: { orderId: input.orderId, courierId: 'k9' } } });
    assert.deepEqual([delivered?.state.courierId, delivered?.pending], ['k9', ['capture', 'payoutRestaurant', 'payoutCourier']]);
    const late = applySagaEvent(saga, { ...landed, ...delivered!, version: 3 }, { kind: 'event', event: { type: 'courier.assigned', data: { orderId: input.orderId, courierId: 'k1', assignment: 1 } } });
    assert.equal(late?.state.courierId, 'k9', 'a late assignment changes nothing');
    const unnamed = applySagaEvent(saga, landed, { kind: 'event', event: { type: 'order.delivered', data: { orderId: input.orderId } } });
    assert.deepEqual(unnamed?.pending, ['capture', 'payoutRestaurant'], 'an event recorded before the courier was in it pays whom the saga knew');
  });
});

describe('retries of the money steps', () => {
  /** Whether the runner tries a failure of `step` again (its own `retryable`, else the error's flag). */
  const retried = (step: string, error: unknown) => saga.steps[step]?.retryable?.(error) ?? (error as { retryable?: unknown }).retryable === true;
  test('a request the provider refused as changed under its key is retried by the charge (it asks the ledger) but parks the other money steps at once', () => {
    const changed = new PaymentRequestChangedError(`${input.orderId}:payoutRestaurant`, 'The payment provider refused the Idempotency-Key');
    assert.equal(retried('charge', changed), true);
    for (const step of ['capture', 'refund', 'payoutRestaurant', 'payoutCourier']) {
      assert.equal(retried(step, changed), false, step);
      assert.equal(retried(step, new PaymentProviderUnavailableError('reset')), true, `${step} still retries a provider that did not answer`);
    }
  });
});

describe('an order whose total is 0', () => {
  test('the charge calls no provider and lands with no charge; delivery then runs the steps (each a no-op), a reject the refund (of nothing)', async () => {
    const free = paymentSaga(
      { provider: { ...createPaymentProviderClient({ baseUrl: 'http://127.0.0.1:9', timeoutMs: 1 }), charge: () => Promise.reject(new Error('the provider refuses 0')) }, orders: { cancelOrder: async () => undefined, expireOrder: async () => ({ status: 'cancelled', courierId: null }) }, paymentMethods: { cardFor: () => Promise.reject(new Error('no card needed')) } },
      { acceptWithinMs: 60_000 },
    );
    const inFlight = chargeInFlight();
    const state = { ...inFlight.state, total: 0 };
    assert.equal(await free.steps.charge!.action({ sagaId: input.orderId, tenantId: input.restaurantId, step: 'charge', idempotencyKey: `${input.orderId}:charge`, state, attempt: 1, signal: new AbortController().signal }), null);
    const landed = applySagaEvent(free, { ...inFlight, state }, { kind: 'stepSucceeded', item: 'charge', result: null });
    assert.deepEqual([landed?.status, landed?.completed, landed?.state.chargeId, landed?.state.charged], ['running', ['order', 'charge'], null, true]);
    const after = { ...inFlight, ...landed!, version: 3 };
    const delivered = applySagaEvent(free, after, { kind: 'event', event: { type: 'order.delivered' } });
    assert.deepEqual(delivered?.pending, ['capture', 'payoutRestaurant']);
    assert.equal(await free.steps.capture!.action({ sagaId: input.orderId, tenantId: input.restaurantId, step: 'capture', idempotencyKey: `${input.orderId}:capture`, state: landed!.state, attempt: 1, signal: new AbortController().signal }), null);
    assert.deepEqual(applySagaEvent(free, after, { kind: 'event', event: { type: 'order.rejected', data: {} } })?.pending, ['refund']);
  });
});
