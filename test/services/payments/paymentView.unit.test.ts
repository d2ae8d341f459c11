import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { SagaDetail, SagaLogEntry } from '../../../src/platform/sagas/index.ts';
import { customerErrorOf, toPaymentView } from '../../../src/services/payments/paymentView.ts';
import type { PaymentSagaState } from '../../../src/services/payments/saga/index.ts';

const orderId = '00000000-0000-4000-8000-000000000001';
const at = new Date(0).toISOString();
const state: PaymentSagaState = {
  orderId, restaurantId: '00000000-0000-4000-8000-000000000002', customerId: '00000000-0000-4000-8000-000000000003', total: 2000, currency: 'EUR',
  chargeId: null, charged: false, chargeFailed: false, accepted: true, courierId: null, outcome: 'open',
};
const entry = (version: number, kind: SagaLogEntry['kind'], item: string, status: SagaDetail['status'], data: unknown = null, error: string | null = null): SagaLogEntry => ({ version, at, kind, item, attempt: kind === 'event' ? null : 1, status, data, error });

/** A payment saga whose charge got no answer and was parked: `pending` and `status` as given. */
const chargeParked = (over: Partial<SagaDetail<PaymentSagaState>>): SagaDetail<PaymentSagaState> => ({
  tenantId: state.restaurantId, id: orderId, name: 'payment', state, version: 4, status: 'parked', pending: ['charge'], completed: ['order'], failed: [], attempts: 10,
  error: 'charge: no answer says whether the card was charged', errorBeforePark: null, createdAt: at, updatedAt: at, runAfter: at, lockedBy: null, lockedUntil: null,
  log: [entry(1, 'started', 'payment', 'running'), entry(2, 'succeeded', 'order', 'running'), entry(3, 'failed', 'charge', 'parked', { code: 'PAYMENT_PROVIDER_TIMEOUT' }, 'no answer')],
  deadlines: [],
  ...over,
});

describe('the payment view of a closed saga', () => {
  test('a charge parked without an answer, then settled by hand and closed, shows settled_by_hand with the close in error, not failed', () => {
    assert.equal(toPaymentView(chargeParked({})).payment, 'unknown');
    const reason = 'Closed by ana: nothing at the provider under the key; order cancelled by hand. It had been parked with: charge: no answer says whether the card was charged';
    const closed = chargeParked({ status: 'closed', pending: [], attempts: 0, error: reason, version: 5, log: [...chargeParked({}).log, entry(5, 'event', 'closed', 'closed', { by: 'ana' })] });
    const view = toPaymentView(closed);
    assert.deepEqual([view.status, view.payment, view.error], ['closed', 'settled_by_hand', reason]);
  });
});

describe('the payment view of a charge parked after a refusal', () => {
  test("a delivered order's card declined (the saga parked, decision 0079) shows declined, not unknown; one parked without an answer stays unknown", () => {
    const declinedLog = [entry(1, 'started', 'payment', 'running'), entry(2, 'succeeded', 'order', 'running'), entry(3, 'failed', 'charge', 'parked', { code: 'PAYMENT_DECLINED' }, 'declined')];
    const declined = chargeParked({ state: { ...state, outcome: 'delivered' }, error: 'charge: order … was delivered, nothing charged', log: declinedLog });
    assert.equal(toPaymentView(declined).payment, 'declined');
    const noCard = chargeParked({ state: { ...state, outcome: 'delivered' }, log: [...declinedLog.slice(0, 2), entry(3, 'failed', 'charge', 'parked', { code: 'PAYMENT_METHOD_MISSING' }, 'no card')] });
    assert.equal(toPaymentView(noCard).payment, 'failed');
    assert.equal(toPaymentView(chargeParked({})).payment, 'unknown');
    // Resumed, the charge runs again.
    assert.equal(toPaymentView({ ...declined, status: 'running', attempts: 0 }).payment, 'authorizing');
  });
});

describe("the payment view of a charge parked because the provider refused the platform's credentials", () => {
  test("on a first attempt (the ledger held nothing under the key, nothing was sent that it looked at): failed, as the park reason says nothing was charged, not unknown (before: unknown); after an earlier attempt it is an unknown outcome and stays unknown", () => {
    const refused = chargeParked({
      error: "charge: The payment provider refused the platform's credentials (401: bad key); nothing was charged. …",
      log: [entry(1, 'started', 'payment', 'running'), entry(2, 'succeeded', 'order', 'running'), entry(3, 'failed', 'charge', 'parked', { code: 'PAYMENT_PROVIDER_CREDENTIALS' }, 'bad key')],
    });
    assert.deepEqual([toPaymentView(refused).status, toPaymentView(refused).payment], ['parked', 'failed']);
    const afterAnEarlierAttempt = chargeParked({ log: [...refused.log.slice(0, 2), entry(3, 'failed', 'charge', 'parked', { code: 'PAYMENT_CHARGE_OUTCOME_UNKNOWN' }, 'attempt 2 …')] });
    assert.equal(toPaymentView(afterAnEarlierAttempt).payment, 'unknown');
    // Resumed once the credentials are fixed, the charge runs again.
    assert.equal(toPaymentView({ ...refused, status: 'running', attempts: 0 }).payment, 'authorizing');
  });
});

describe('the payment view of a saga whose refund failed for good', () => {
  /** Its log: charged, the restaurant rejected, the refund refused for good. */
  const refundFailedLog = [
      entry(1, 'started', 'payment', 'running'),
      entry(2, 'succeeded', 'order', 'running'),
      entry(3, 'succeeded', 'charge', 'running', { id: 'ch_1', amount: 2000 }),
      entry(4, 'event', 'restaurant.rejected', 'compensating'),
      entry(5, 'failed', 'undo:charge', 'failed', { code: 'PAYMENT_REJECTED' }, 'refund refused'),
  ];

  test("shows the money authorized, not refunding, and the refund and the order's cancel still pending (the saga keeps both for a person)", () => {
    const log = refundFailedLog;
    const failed = chargeParked({
      state: { ...state, chargeId: 'ch_1', charged: true, outcome: 'rejected' },
      status: 'failed',
      pending: ['undo:charge', 'undo:order'],
      completed: ['order', 'charge'],
      attempts: 1,
      error: 'rejected; compensation charge failed: refund refused; left: undo:charge, undo:order',
      log,
    });
    const view = toPaymentView(failed);
    assert.deepEqual([view.status, view.payment, view.amounts.authorized, view.amounts.refunded], ['failed', 'authorized', 2000, 0]);
    assert.deepEqual(view.steps.filter((s) => s.outcome === 'pending').map((s) => [s.step, s.compensation]), [['charge', true], ['order', true]]);
  });

  test("refunded by hand and resumed past the refund (brigade sagas resume --settled): settled_by_hand while the order's cancel runs and after, not authorized (before: the hand refund was nowhere in the view)", () => {
    const error = 'rejected; compensation charge failed: refund refused; undo:charge settled by hand by ana: refunded re_9 at the provider';
    const settledEntry = entry(6, 'event', 'settled', 'compensating', { by: 'ana', settled: 'refunded re_9 at the provider', item: 'undo:charge', was: 'failed', left: ['undo:order'] });
    const base = {
      state: { ...state, chargeId: 'ch_1', charged: true, outcome: 'rejected' as const },
      completed: ['order', 'charge'],
      attempts: 0,
      error,
    };
    const log = [...refundFailedLog, settledEntry];
    const running = toPaymentView(chargeParked({ ...base, status: 'compensating', pending: ['undo:order'], log }));
    assert.deepEqual([running.status, running.payment, running.error], ['compensating', 'settled_by_hand', error]);
    const done = toPaymentView(chargeParked({ ...base, status: 'compensated', pending: [], log: [...log, entry(7, 'succeeded', 'undo:order', 'compensated')] }));
    assert.deepEqual([done.status, done.payment, done.amounts.refunded], ['compensated', 'settled_by_hand', 0]);
    // Only the refund's settle says so: the order's cancel settled by hand leaves the money as it was.
    const orderOnly = toPaymentView(chargeParked({ ...base, status: 'compensated', pending: [], log: [...log.slice(0, 3), entry(4, 'event', 'settled', 'compensated', { item: 'undo:order' })] }));
    assert.equal(orderOnly.payment, 'authorized');
  });
});

describe("what a customer reads of a failed charge (found by a review: before, always 'the payment needs attention; the restaurant and the platform can see why')", () => {
  /** A saga whose charge failed with `code` and that ended (`pending` empty) or waits (`pending` as given). */
  const failedWith = (code: string, over: Partial<SagaDetail<PaymentSagaState>> = {}) =>
    chargeParked({
      status: 'compensated', pending: [], attempts: 0, error: `charge failed: ${code} detail for the operator`,
      log: [entry(1, 'started', 'payment', 'running'), entry(2, 'succeeded', 'order', 'running'), entry(3, 'failed', 'charge', 'compensating', { code }, 'detail'), entry(4, 'succeeded', 'undo:order', 'compensated')],
      ...over,
    });

  test('a failure the customer can fix, on a saga that ended, says what to do: no card on file, a declined card', () => {
    assert.equal(customerErrorOf(failedWith('PAYMENT_METHOD_MISSING')), 'No card on file: add one with PUT /v1/customers/me/payment-method and order again');
    assert.equal(customerErrorOf(failedWith('PAYMENT_DECLINED')), 'Your card was declined: use another card (PUT /v1/customers/me/payment-method) and order again');
  });

  test("anything else, or a saga still waiting for a person (parked: the order may yet be charged), keeps the general message (null here)", () => {
    for (const code of ['PAYMENT_METHOD_UNAVAILABLE', 'PAYMENT_REJECTED', 'PAYMENT_PROVIDER_TIMEOUT']) assert.equal(customerErrorOf(failedWith(code)), null, code);
    // A delivered order's charge refused and parked: the customer's card matters, but a person settles it.
    assert.equal(customerErrorOf(failedWith('PAYMENT_METHOD_MISSING', { status: 'parked', pending: ['charge'] })), null);
    // A charge that failed, was resumed and succeeded says nothing of the old failure.
    const recharged = failedWith('PAYMENT_DECLINED', { status: 'running', log: [...failedWith('PAYMENT_DECLINED').log.slice(0, 3), entry(4, 'succeeded', 'charge', 'running', { id: 'ch_1', amount: 2000 })] });
    assert.equal(customerErrorOf(recharged), null);
  });
});
