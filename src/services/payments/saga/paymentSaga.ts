import { BrigadeError } from '../../../platform/errors/index.ts';
import { defineSaga, type SagaDecision, type SagaDefinition, type StepContext } from '../../../platform/sagas/index.ts';
import { PaymentProviderCredentialsError, PaymentProviderUnavailableError, PaymentRejectedError, PaymentRequestChangedError, type Charge, type LedgerEntry } from '../provider/index.ts';
import { PaymentMethodMissingError, PaymentMethodUnavailableError } from '../paymentMethodsOf.ts';
import type { CommandCause, OrderExpiry, PaymentSagaPorts } from './ports.ts';
import { ChargeOutcomeUnknownError } from './chargeOutcomeUnknownError.ts';
import { ChargeWithheldError } from './chargeWithheldError.ts';
import { findLedgerEntry } from './findLedgerEntry.ts';
import { ledgerEntryAsAsked } from './ledgerEntryAsAsked.ts';
import { providerOutcomeUnknown, reconcileWithLedger } from './reconcileWithLedger.ts';
import type { OrderEndedBeforeStart } from './findOrderEndedBeforeStart.ts';
import { courierFeeOf, LEGACY_COURIER_FEE, type CourierFees } from './courierFeeOf.ts';
import { checkCourierFees } from './checkCourierFees.ts';

/** The saga type's name, as stored in `payments.saga_instances.name`. */
export const PAYMENT_SAGA = 'payment';

/** The start input: the data of `OrderPlaced` the saga needs. */
export interface PaymentSagaInput {
  readonly orderId: string;
  readonly restaurantId: string;
  readonly customerId: string;
  /** Minor units. */
  readonly total: number;
  readonly currency: string;
  /**
   * The `OrderPlaced` message that started the saga (its id, correlation and traceparent): the cause
   * of the commands the saga sends to ordering (a cancel, an expiry). Absent in sagas started before
   * it was kept, whose commands go without one.
   */
  readonly cause?: CommandCause;
  /**
   * When the order was placed (ISO-8601, `OrderPlaced`'s `placedAt`): the accept deadline runs from
   * it, not from when payments took the event, which a consumer's backlog delays. Absent in sagas
   * started before it was kept: their deadline ran `acceptWithinMs` from the start.
   */
  readonly placedAt?: string;
  /**
   * The order had ended (cancelled, rejected) before its `OrderPlaced` reached payments: the consumer
   * took that end first and could give it to no saga. The saga then ends at once, charging nothing
   * (its log's `started` entry keeps this; the view says `voided`, with the outcome).
   */
  readonly endedBeforeStart?: OrderEndedBeforeStart;
}

/** Where the order stands, as the saga saw it. */
export type PaymentOutcome = 'open' | 'rejected' | 'cancelled' | 'expired' | 'delivered';

/** The payment saga's state (persisted as jsonb with the instance's version). */
export interface PaymentSagaState extends PaymentSagaInput {
  /** The authorized charge, once `charge` succeeded; stays `null` for a total of 0 (nothing to charge). */
  readonly chargeId: string | null;
  /** `charge` succeeded (absent in sagas started before it existed, which always have a `chargeId` then). */
  readonly charged?: boolean;
  /** `charge` failed for good (declined): nothing was charged. */
  readonly chargeFailed: boolean;
  readonly accepted: boolean;
  readonly courierId: string | null;
  /** The number of the assignment that gave `courierId` (ordering's `CourierAssigned.assignment`); absent before one was numbered. */
  readonly courierAssignment?: number;
  /** What ended the order, or `open`. Set even while the charge is in flight; acted on once it lands. */
  readonly outcome: PaymentOutcome;
  /**
   * The accept deadline passed and `expire` asks ordering to cancel the order: the `OrderCancelled` that
   * cancel appends may arrive before the step's own success (absent in sagas from before it existed).
   */
  readonly expiring?: boolean;
  /**
   * The order ended while `charge` was still in flight with nothing under its key in the provider's
   * ledger: the charge was never sent again and nothing was charged (see {@link ChargeWithheld}).
   */
  readonly chargeWithheld?: boolean;
  /**
   * The courier's payout of this order, minor units of `currency` ({@link courierFeeOf} when the saga
   * started): a change of the fees later leaves an order in flight as it was. Absent in sagas started
   * before it was kept, which pay 300 ({@link LEGACY_COURIER_FEE}) as they did.
   */
  readonly courierFee?: number;
}

/** What `charge` answers when the order ended before anything was charged: it sent nothing. */
export interface ChargeWithheld {
  readonly withheld: true;
  readonly outcome: PaymentOutcome;
}

/** Options of {@link paymentSaga}. */
export interface PaymentSagaOptions {
  /** A restaurant that has not accepted within this many ms after the order was placed: cancel and refund. */
  readonly acceptWithinMs: number;
  /**
   * The courier's payout per delivered order, by currency, minor units of each (`{ EUR: 300, JPY: 500 }`);
   * a currency it does not name gets {@link courierFeeOf}'s default (3 major units by its ISO 4217
   * exponent; 500 JPY). Fixed into a saga's state when it starts. An entry that is not a whole number of
   * minor units, or a code that is not three capital letters, throws `PAYMENT_COURIER_FEES_INVALID`.
   */
  readonly courierFees?: CourierFees;
  /** The platform's share of the total, 0..1, kept from the restaurant's payout. Default 0.15. */
  readonly commissionRate?: number;
}

type State = PaymentSagaState;
type Ctx = StepContext<State>;

/**
 * Attempts of a step that moves money before it gives up (the runner backs off 200 ms · 2^(n−1), at
 * most 30 s, between them: about a minute and a half in all). Past them, an outcome that is not a
 * refusal parks the saga for a person instead of compensating (decision 0079). The saga's commands to
 * ordering (the expiry, and the cancel that undoes `order`) retry as long.
 */
export const MONEY_STEP_ATTEMPTS = 10;

/**
 * Failure codes of a charge that moved no money: the provider refused it (a refusal it keeps under the
 * key; a 400, 404 or 409 is none, and the client reports it as an unknown outcome), or it was never
 * sent (no card on file, or none could be read, after the ledger showed no authorization under the
 * key). Any other may have authorized. After a failed attempt the charge step turns the ones that say
 * nothing of that attempt into an unknown outcome (see `afterAnEarlierAttempt` in the step).
 */
const NOTHING_CHARGED = new Set(['PAYMENT_DECLINED', 'PAYMENT_REJECTED', 'PAYMENT_METHOD_MISSING', 'PAYMENT_METHOD_UNAVAILABLE']);

/** Whether a charge that failed with `code` moved no money (see {@link NOTHING_CHARGED}). */
export const chargedNothing = (code: string | null | undefined): boolean => code != null && NOTHING_CHARGED.has(code);

/**
 * Whether a charge parked after failing with `code` is known to have charged nothing: a refusal (see
 * {@link chargedNothing}; a delivered order's charge parks on one), or the platform's credentials refused
 * on a first attempt (`PAYMENT_PROVIDER_CREDENTIALS`: the ledger held nothing under the key, and the
 * provider looked at nothing this attempt sent; after an earlier attempt the charge fails with
 * `PAYMENT_CHARGE_OUTCOME_UNKNOWN` instead). Its park reason says "nothing was charged"; any other
 * failure parks an outcome nobody knows.
 */
export const parkedChargeChargedNothing = (code: string | null | undefined): boolean => chargedNothing(code) || code === 'PAYMENT_PROVIDER_CREDENTIALS';

/**
 * Refusals the provider stores under the charge's key (a 4xx is its answer to that key): sent again
 * under the key, the same request gets the same answer, another request is refused as changed. The
 * other nothing-charged codes sent nothing, so the key is still unused.
 */
const REFUSAL_KEPT_UNDER_KEY = new Set(['PAYMENT_DECLINED', 'PAYMENT_REJECTED']);

/**
 * Statuses of a {@link PaymentRejectedError} that the provider keeps under the key as its answer to it
 * (a declined card, a request it refused for what it asks): sent again under the key, the same request
 * gets the same answer, so an earlier attempt's request got it too. Any other 4xx it may answer without
 * looking at the key's request.
 */
const REFUSAL_STATUSES_KEPT_UNDER_KEY = new Set([402, 422]);

/**
 * Whether a failure of a money step other than the charge is worth another attempt: a retryable one,
 * except a request the provider refused as changed under its key (422 IDEMPOTENCY_KEY_REUSED). The
 * step sends the same body again on every attempt, so it would be refused again; the ledger holding
 * nothing under the key when asked (see `reconcileWithLedger`), the step parks at once (its
 * `MoneyOutcomeUnknownError` is not retryable then).
 */
const retryableUnlessChanged = (error: unknown) => !(error instanceof PaymentRequestChangedError) && (error as { retryable?: unknown } | null)?.retryable === true;

/**
 * Whether a failed command to ordering (the cancel that undoes `order`, the expiry) is worth another
 * attempt: yes unless ordering answered for good (the order is unknown, 404; the command refused, 422,
 * e.g. an order picked up or delivered). A conflict that outlasted the adapter's own retries (412
 * `CONCURRENCY_CONFLICT`, 409), a tenant on the move (503 `TENANT_MOVING`), any other 5xx, and an
 * error that is not Brigade's (a deadlock, 40P01; a connection reset) pass. Both commands are
 * idempotent, so another attempt is safe.
 */
const orderingMayAnswerLater = (error: unknown) => !(error instanceof BrigadeError) || error.status >= 500 || error.status === 409 || error.status === 412;

/**
 * The payouts of a delivered order: the courier's fee (the one its saga fixed at start, in the order's
 * currency; 300 for a saga from before that), and the rest less the commission to the restaurant.
 */
export function payoutsOf(state: Pick<State, 'total' | 'courierFee'>, options: Pick<PaymentSagaOptions, 'commissionRate'>): { restaurant: number; courier: number } {
  const courier = Math.min(state.total, state.courierFee ?? LEGACY_COURIER_FEE);
  const commission = Math.round(state.total * (options.commissionRate ?? 0.15));
  return { restaurant: Math.max(0, state.total - courier - commission), courier };
}

/**
 * The payment saga of an order (one instance per order; its id is the order id). Steps:
 * `order` (no effect of its own; its compensation cancels the order through ordering), `charge`
 * (authorize; compensated by a void, or a refund once captured), then on delivery `capture`, `payoutRestaurant`, `payoutCourier`
 * (never compensated: one that fails for good parks the saga for a person).
 * A reject or cancel refunds (`refund`); a declined card fails the saga, which cancels the order and
 * charges nothing (an order delivered meanwhile is not cancelled: the saga parks); no accept within
 * `acceptWithinMs` (deadline `accept`) fails it: refund, then cancel.
 * Every provider call carries the step's key `${sagaId}:${step}` (`…:compensate` for compensations),
 * so a retried or re-run step moves money once. Every command to ordering (the cancel, the expiry)
 * carries the saga's `cause`, the `OrderPlaced` message that started it: ordering's events then name
 * that message as their causation and keep its correlation and trace.
 *
 * An order event that lands while `charge` is still in flight is only noted in the state: failing the
 * saga then would drop the pending charge, whose money might still move; `charge.succeeded` acts on it.
 *
 * Every attempt of the charge first asks the provider's ledger whether its key already authorized,
 * and so does a charge that got no answer; one that fails
 * for good without a refusal (no answer after {@link MONEY_STEP_ATTEMPTS} attempts) parks the saga for
 * a person instead of cancelling as if nothing was charged (decision 0079).
 */
export function paymentSaga(ports: PaymentSagaPorts, options: PaymentSagaOptions): SagaDefinition<State, PaymentSagaInput> {
  const payouts = payoutsOf;
  const courierFees = checkCourierFees(options.courierFees ?? {});
  /**
   * Pays `amount` to `destination` under the step's key. A payout of nothing is no payout (the provider
   * refuses an amount of 0): a small order's fee and commission can take the restaurant's whole share,
   * and a refused payout would refund a delivered order.
   */
  const payOut = async (ctx: Ctx, destination: string, amount: number) => {
    if (amount <= 0) return null;
    const key = ctx.idempotencyKey;
    // An answer lost: the ledger, by the destination, says whether the key paid out (and how much).
    return reconcileWithLedger(
      ports.provider,
      { what: `the payout of ${amount} ${ctx.state.currency} to ${destination} (key ${key})`, idempotencyKey: key, movement: 'payout', reference: destination, expected: { amount, currency: ctx.state.currency } },
      () => ports.provider.payout({ destination, amount, currency: ctx.state.currency }, key, ctx.signal),
      (entry) => ({ id: entry.objectId, destination, amount: entry.amount, currency: entry.currency, reconciled: true }),
      ctx.signal,
    );
  };
  /**
   * Gives the whole charge back. An authorization that was never captured is voided (released: nothing
   * was taken, so nothing is refunded), under the derived key `<key>:void`; only a charge the provider
   * says is captured already (an order lost in transit, a capture made by hand, a saga from before the
   * void that captured under `<key>:capture`) is refunded, under the step's key. Before, an authorized
   * charge was captured, then refunded: the money moved twice, the customer saw a charge until the
   * refund settled, and a real processor charges fees for both. An answer lost on either call: the
   * ledger entry under that call's key is what was done.
   */
  const refundAll = async (ctx: Ctx) => {
    const chargeId = ctx.state.chargeId;
    if (chargeId === null) return { refunded: false, amount: 0 };
    const key = ctx.idempotencyKey;
    const voidKey = `${key}:void`;
    const whole = { amount: ctx.state.total, currency: ctx.state.currency };
    const voided = await reconcileWithLedger(
      ports.provider,
      { what: `the void of charge ${chargeId} (key ${voidKey})`, idempotencyKey: voidKey, movement: 'void', reference: ctx.state.orderId, expected: whole },
      async () => {
        try {
          const charge = await ports.provider.void(chargeId, voidKey, whole, ctx.signal);
          return { refunded: false, voided: true, voidId: charge.id, amount: charge.amount };
        } catch (error) {
          const details = error instanceof PaymentRejectedError ? (error.details as { providerCode?: unknown; chargeStatus?: unknown } | undefined) : undefined;
          // Captured already: refunded below. Any other refusal (voided under another key, declined) is thrown.
          if (details?.providerCode === 'CHARGE_NOT_VOIDABLE' && details.chargeStatus === 'captured') return null;
          throw error;
        }
      },
      (entry) => ({ refunded: false, voided: true, voidId: entry.objectId, amount: entry.amount, reconciled: true }),
      ctx.signal,
    );
    if (voided !== null) return voided;
    return reconcileWithLedger(
      ports.provider,
      { what: `the refund of charge ${chargeId} (key ${key})`, idempotencyKey: key, movement: 'refund', reference: ctx.state.orderId, expected: whole },
      async () => {
        const refund = await ports.provider.refund({ chargeId, amount: ctx.state.total }, key, { currency: ctx.state.currency }, ctx.signal);
        return { refunded: true, refundId: refund.id, amount: refund.amount };
      },
      (entry) => ({ refunded: true, refundId: entry.objectId, amount: entry.amount, reconciled: true }),
      ctx.signal,
    );
  };
  /** Where the charge's authorization would be in the provider's ledger, and what it must be. */
  const authorizationLookup = (ctx: Ctx) => ({
    what: `the charge of ${ctx.state.total} ${ctx.state.currency} (key ${ctx.idempotencyKey})`,
    idempotencyKey: ctx.idempotencyKey,
    movement: 'authorization' as const,
    reference: ctx.state.orderId,
    expected: { amount: ctx.state.total, currency: ctx.state.currency },
  });
  /** The entry the provider's ledger holds under the charge's key, or `null`; throws what the read throws. */
  const authorizationEntryOf = (ctx: Ctx) => findLedgerEntry(ports.provider, authorizationLookup(ctx), ctx.signal);
  /**
   * `entry` (see {@link authorizationEntryOf}) as the charge it made, or `null` for none: what a charge
   * whose answer was lost did. One of another amount or currency is not the charge asked for:
   * `PAYMENT_PROVIDER_ANSWER_INVALID`, naming both (retried, then parked; before, a 1 USD authorization
   * was taken as a 2000 EUR order's charge). (The ledger has no card: `cardLast4` is absent.)
   */
  const authorizationIn = (ctx: Ctx, entry: LedgerEntry | null) => {
    if (entry === null) return null;
    ledgerEntryAsAsked(entry, authorizationLookup(ctx));
    return { id: entry.objectId, reference: entry.reference, amount: entry.amount, currency: entry.currency, status: 'authorized' as const, reconciled: true };
  };
  const ended = (s: State) => s.outcome !== 'open';
  /** The charge has landed: `false` while it is in flight (or failed). */
  const landed = (s: State) => s.charged === true || s.chargeId !== null;
  /** After the charge landed: act on what happened to the order meanwhile. */
  const afterCharge = (s: State): SagaDecision<State> => {
    if (s.outcome === 'rejected' || s.outcome === 'cancelled') return { state: s, run: ['refund'] };
    if (s.outcome === 'expired') return { state: s, fail: `restaurant did not accept within ${options.acceptWithinMs} ms` };
    if (s.outcome === 'delivered') return { state: s, run: deliverySteps(s) };
    return { state: s };
  };
  const deliverySteps = (s: State) => (s.courierId === null ? ['capture', 'payoutRestaurant'] : ['capture', 'payoutRestaurant', 'payoutCourier']);
  /** How a person ends a park: resume the saga (`resume`: what it then does), or do that by hand and close it. */
  const resumeOrClose = (s: State, resume: string) =>
    `Once the payment provider answers, 'brigade sagas resume ${s.orderId}' ${resume}; each key moves the money once however often it is sent. ` +
    `Or do it by hand under those keys, then 'brigade sagas close ${s.orderId} --reason "what you did"'`;
  /**
   * What a person does first about a money step whose outcome nobody knows (`PAYMENT_OUTCOME_UNKNOWN`:
   * no answer, and nothing under its key in the ledger when the saga asked, or no ledger; its message
   * names the key and the reference): look again, since the request may have landed after the saga
   * asked. `movement` is the ledger's word for what the step makes, `done` what an entry would mean.
   */
  const lookAgain = (movement: string, done: string) =>
    `Look that key up in the provider's ledger again (the request may have landed after the saga asked): a ${movement} under it means ${done}, and a resume finds it there and goes on; none means the money did not move.`;
  /**
   * A step of a delivered order failed for good: refunding and cancelling a delivered order would be
   * wrong, so the saga parks, saying what a person should do (`todo`). A failure whose outcome is
   * unknown says so and what to look up, not "failed for good".
   */
  const parkDelivered = (step: string, movement: string, done: string, todo: (s: State) => string) => (s: State, e: { data?: unknown }): SagaDecision<State> => {
    const failure = e.data as { code: string; message: string };
    const left = resumeOrClose(s, `does what is left: ${todo(s)}`);
    if (failure.code === 'PAYMENT_OUTCOME_UNKNOWN') return { park: `${step} of the delivered order: ${failure.message}; nothing was refunded. ${lookAgain(movement, done)} ${left}` };
    return { park: `${step} of the delivered order failed for good (${failure.code}: ${failure.message}); nothing was refunded. ${left}` };
  };
  /** The payouts still to make from `first` on, in words, with their keys. */
  const payoutsLeft = (s: State, first: 'payoutRestaurant' | 'payoutCourier') => {
    const amounts = payouts(s, options);
    const left = [
      ...(first === 'payoutRestaurant' && amounts.restaurant > 0 ? [`pay ${amounts.restaurant} ${s.currency} out to restaurant ${s.restaurantId} (key ${s.orderId}:payoutRestaurant)`] : []),
      ...(s.courierId !== null && amounts.courier > 0 ? [`pay ${amounts.courier} ${s.currency} out to courier ${s.courierId} (key ${s.orderId}:payoutCourier)`] : []),
    ];
    return left.length === 0 ? 'nothing is left to pay out' : left.join(', then ');
  };
  /** The park reason of a charge refused (nothing charged) for an order that was delivered meanwhile. */
  const deliveredNothingCharged = (s: State, failure: { code: string; message: string }) => {
    const byHand =
      `collect the ${s.total} ${s.currency} from the customer another way and settle what the delivery owes by hand (${payoutsLeft(s, 'payoutRestaurant')}), ` +
      `then 'brigade sagas close ${s.orderId} --reason "what you did"'`;
    // What must change before a resume can charge: the platform's credentials, or the customer's card.
    const once = failure.code === 'PAYMENT_PROVIDER_CREDENTIALS' ? "Once the provider takes the platform's credentials again" : 'Once the customer has a card on file that can be read';
    return (
      `charge: order ${s.orderId} was delivered, nothing charged (${failure.code}: ${failure.message}). A delivered order is not cancelled, so nothing was undone; nothing was captured or paid out. ` +
      (REFUSAL_KEPT_UNDER_KEY.has(failure.code)
        ? `The provider keeps its refusal under key ${s.orderId}:charge and would answer a resume with it again: ${byHand}`
        : `${once}, 'brigade sagas resume ${s.orderId}' charges it under key ${s.orderId}:charge, then captures it and pays out; or ${byHand}`)
    );
  };
  /**
   * The park reason of a charge whose outcome is unknown (`lead` says why) for an order that was
   * delivered meanwhile: a resume charges (or finds the authorization), captures and pays out; by hand,
   * the capture and the payouts the delivery owes, each under the key the saga would use. Never a
   * cancel: ordering refuses to cancel a delivered order. Before, the reason said "capture it … then
   * close", and a close dropped the payouts the saga had never queued (the charge had not landed).
   */
  const deliveredOutcomeUnknown = (s: State, lead: string) =>
    `${lead} Meanwhile order ${s.orderId} was delivered: a delivered order is not cancelled, so nothing was undone; nothing was captured or paid out. ` +
    `Once the payment provider answers, 'brigade sagas resume ${s.orderId}' charges again (it first looks key ${s.orderId}:charge up in the provider's ledger and goes on with an authorization it finds there), ` +
    `then captures it and pays ${s.courierId === null ? 'the restaurant' : 'the restaurant and the courier'} out. ` +
    `Or settle it by hand: look up reference ${s.orderId} in the provider's ledger; an authorization under key ${s.orderId}:charge means the customer was charged: ` +
    `capture it (key ${s.orderId}:capture), then ${payoutsLeft(s, 'payoutRestaurant')}; ` +
    `none means nothing was charged: collect the ${s.total} ${s.currency} from the customer another way and make the same payouts; ` +
    `then 'brigade sagas close ${s.orderId} --reason "what you did"'`;
  /**
   * The accept deadline: `acceptWithinMs` after the order was placed. Before, it ran from the saga's
   * start, so after a backlog of the order-events consumer an unaccepted order was refunded as late as
   * the backlog. A deadline already past is due at once (the store never schedules one before now).
   * An input without a readable `placedAt` (an event from before it was kept) runs it from now.
   */
  const acceptDeadline = (input: PaymentSagaInput) => {
    const placed = input.placedAt === undefined ? Number.NaN : Date.parse(input.placedAt);
    return Number.isNaN(placed) ? { name: 'accept', inMs: options.acceptWithinMs } : { name: 'accept', at: new Date(placed + options.acceptWithinMs) };
  };
  /** The order was cancelled because the restaurant did not accept in time: refund, as a failure of the saga. */
  const expired = (s: State): SagaDecision<State> => {
    const next = { ...s, outcome: 'expired' as const };
    if (s.chargeFailed) return { state: next, complete: true };
    return { state: next, fail: `restaurant did not accept within ${options.acceptWithinMs} ms` };
  };
  /** The order was rejected or cancelled by ordering (the order needs no cancel of ours). */
  const orderEnded = (outcome: 'rejected' | 'cancelled') => (s: State): SagaDecision<State> => {
    if (ended(s)) return {};
    // The cancel that `expire` asked for, its event ahead of the step's success: the order expired.
    if (outcome === 'cancelled' && s.expiring === true && !s.accepted && (landed(s) || s.chargeFailed)) return expired(s);
    const next = { ...s, outcome };
    if (s.chargeFailed) return { state: next, complete: true };
    if (!landed(s)) return { state: next, cancel: ['accept'] }; // charge in flight: charge.succeeded refunds
    return { state: next, run: ['refund'], cancel: ['accept'] };
  };

  return defineSaga<State, PaymentSagaInput>({
    name: PAYMENT_SAGA,
    initialState: { orderId: '', restaurantId: '', customerId: '', total: 0, currency: '', chargeId: null, charged: false, chargeFailed: false, accepted: false, courierId: null, outcome: 'open' },
    start: (s, input) => {
      const state: State = {
        ...s,
        orderId: input.orderId,
        restaurantId: input.restaurantId,
        customerId: input.customerId,
        total: input.total,
        currency: input.currency,
        courierFee: courierFeeOf(input.currency, courierFees),
        ...(input.cause === undefined ? {} : { cause: input.cause }),
        ...(input.placedAt === undefined ? {} : { placedAt: input.placedAt }),
      };
      // The order ended before its OrderPlaced reached payments: nothing to charge, nothing to cancel.
      // Before, the saga charged an order that had ended, refunded only when the accept deadline asked ordering.
      if (input.endedBeforeStart !== undefined) {
        const outcome = input.endedBeforeStart.event === 'OrderRejected' ? 'rejected' : 'cancelled';
        return { state: { ...state, endedBeforeStart: input.endedBeforeStart, outcome }, complete: true };
      }
      return { state, run: ['order', 'charge'], schedule: [acceptDeadline(input)] };
    },
    steps: {
      order: {
        // The cancel is what stops the kitchen cooking an order nobody paid for. Before, it had neither
        // `retryable` nor `maxAttempts`: the runner retries only errors marked retryable, so one conflict
        // or moving tenant failed it at once and the declined order was never cancelled. It is retried
        // as the expiry is, as long as the money steps (about a minute and a half of backoff, beside the
        // router's own 30 s wait for a moving tenant), then the saga fails for a person as before.
        maxAttempts: MONEY_STEP_ATTEMPTS,
        retryable: orderingMayAnswerLater,
        // The order exists (ordering placed it); this step only gives the saga something to undo.
        action: async () => null,
        compensate: (ctx) =>
          ports.orders.cancelOrder({ restaurantId: ctx.state.restaurantId, orderId: ctx.state.orderId, reason: `payment: ${ctx.state.outcome === 'expired' ? 'not accepted in time' : 'payment failed'}` }, ctx.state.cause),
      },
      charge: {
        maxAttempts: MONEY_STEP_ATTEMPTS,
        action: async (ctx) => {
          // A total of 0 charges nothing (the provider refuses an amount of 0): the order goes on.
          if (ctx.state.total === 0) return null;
          // The ledger first, on every attempt (one GET): an earlier run may have authorized with its
          // answer lost, and the attempt count does not say so (it restarts at a resume, and stays 1
          // when a lease expired). Sending again could send another request under the same key (the
          // card on file may have changed, or be gone and read as nothing charged); the ledger says
          // what the key did. A ledger that cannot be read fails the attempt: nothing is sent blind.
          // Any error of that read, a refusal (429, 401, 408) too, says nothing about what the key did:
          // it is an unknown outcome (retried, then parked), never "nothing charged".
          const found = await authorizationEntryOf(ctx).catch((error: unknown) => {
            throw new PaymentProviderUnavailableError(
              `The payment provider's ledger could not be read before the charge was sent (${error instanceof Error ? error.message : String(error)}), so whether key ${ctx.idempotencyKey} authorized earlier is unknown; the charge is retried with the same key`,
              { cause: error },
            );
          });
          const authorized = authorizationIn(ctx, found);
          if (authorized !== null) return authorized;
          // The order ended (rejected, cancelled, expired) while the charge was being retried: nothing is
          // sent. Before, the charge went on, authorized once the provider was back, and the saga then
          // captured and refunded it: a card charged and refunded for an order that ended before any
          // money moved. On a first attempt nothing was sent before, so nothing can land: withheld at
          // once. After a failed attempt (a timeout, whose request may still be processed) the ledger
          // is asked again on each attempt left, sending nothing: an authorization that lands is taken
          // and undone; none by the last attempt, the charge is withheld.
          const outcome = ctx.state.outcome;
          if (outcome === 'rejected' || outcome === 'cancelled' || outcome === 'expired') {
            if (ctx.attempt === 1 || ctx.attempt >= MONEY_STEP_ATTEMPTS) return { withheld: true, outcome } satisfies ChargeWithheld;
            throw new ChargeWithheldError(ctx.idempotencyKey, ctx.attempt, outcome);
          }
          // After a failed attempt, "sent nothing now" is not "nothing charged": the earlier attempt (a
          // timeout, say) may still be processed at the provider, and commit after this attempt read
          // the ledger. Before, a card removed meanwhile failed the saga, cancelling the order, and an
          // authorization that landed afterwards was never refunded. Now it is an unknown outcome:
          // retried (each attempt asks the ledger first), then parked. (`ctx.attempt` counts the failed
          // attempts since the resume: an earlier one that sent nothing counts too. A card store that
          // fails is left as it was: retried anyway, and only its last failure, after every attempt read
          // the ledger, is taken as nothing charged.)
          const afterAnEarlierAttempt = (error: BrigadeError, what?: string) => (ctx.attempt > 1 ? new ChargeOutcomeUnknownError(ctx.idempotencyKey, ctx.attempt, error, what) : error);
          const sentNothing = (error: BrigadeError) => afterAnEarlierAttempt(error);
          const card = await ports.paymentMethods.cardFor({ restaurantId: ctx.state.restaurantId, customerId: ctx.state.customerId, orderId: ctx.state.orderId }).catch((error: unknown) => {
            // No card on file is a refusal; a store that failed says nothing about the card: retried.
            throw error instanceof PaymentMethodMissingError ? sentNothing(error) : new PaymentMethodUnavailableError(ctx.state.customerId, error);
          });
          try {
            return await ports.provider.charge({ amount: ctx.state.total, currency: ctx.state.currency, card, reference: ctx.state.orderId }, ctx.idempotencyKey, ctx.signal);
          } catch (error) {
            // Credentials refused: the provider did not look at the key, so an earlier attempt may still land.
            if (error instanceof PaymentProviderCredentialsError) throw sentNothing(error);
            // A refusal the provider does not keep under the key (any 4xx but 402 and 422: a 409 "key in
            // use" from a port other than the HTTP client, which reports 400, 404 and 409 as unknown
            // outcomes itself, a 410) says nothing of an earlier attempt's request, still processed,
            // maybe: after a failed attempt it is an unknown outcome too. Before, attempt 1 timed out,
            // attempt 2 got a 409, and the saga cancelled the order as nothing charged while attempt 1
            // authorized, never refunded.
            if (error instanceof PaymentRejectedError) {
              const providerStatus = (error.details as { providerStatus?: unknown } | undefined)?.providerStatus;
              if (typeof providerStatus !== 'number' || !REFUSAL_STATUSES_KEPT_UNDER_KEY.has(providerStatus)) {
                throw afterAnEarlierAttempt(error, `was refused with ${String(providerStatus)}, which the provider keeps under no key`);
              }
            }
            if (!providerOutcomeUnknown(error)) throw error;
            // An unknown outcome is not "nothing charged": the ledger says whether this key authorized. A ledger
            // that cannot be read either leaves the failure as it was (retried, then parked).
            const found = await authorizationEntryOf(ctx).catch(() => null);
            if (found === null) throw error;
            return authorizationIn(ctx, found);
          }
        },
        compensate: refundAll,
      },
      // The accept deadline passed before payments took an OrderAccepted: ordering decides, since the
      // restaurant may have accepted on time with its event still on its way (a backlog, a retry).
      // Before, the deadline failed the saga at once: an accepted, even delivered, order was refunded.
      expire: {
        maxAttempts: MONEY_STEP_ATTEMPTS,
        // Retried unless ordering answered for good (the order is unknown, the command refused): a
        // conflict, a tenant on the move, a database or connection error passes.
        retryable: orderingMayAnswerLater,
        action: (ctx) => ports.orders.expireOrder({ restaurantId: ctx.state.restaurantId, orderId: ctx.state.orderId, reason: 'payment: not accepted in time' }, ctx.state.cause),
      },
      // After a reject or cancel: retried as long as the money steps, then parked (never compensated:
      // the default would cancel an order that already ended and refund the charge under a second key).
      refund: { maxAttempts: MONEY_STEP_ATTEMPTS, retryable: retryableUnlessChanged, action: refundAll },
      // After delivery: retried longer, then parked (see parkDelivered), never compensated.
      capture: {
        maxAttempts: MONEY_STEP_ATTEMPTS,
        retryable: retryableUnlessChanged,
        action: async (ctx) => {
          const chargeId = ctx.state.chargeId;
          if (chargeId !== null) {
            // An answer lost: a capture under the key in the ledger is the capture made.
            return reconcileWithLedger(
              ports.provider,
              { what: `the capture of charge ${chargeId} (key ${ctx.idempotencyKey})`, idempotencyKey: ctx.idempotencyKey, movement: 'capture', reference: ctx.state.orderId, expected: { amount: ctx.state.total, currency: ctx.state.currency } },
              () => ports.provider.capture(chargeId, ctx.idempotencyKey, { amount: ctx.state.total, currency: ctx.state.currency }, ctx.signal),
              (entry): object => ({ id: chargeId, reference: entry.reference ?? ctx.state.orderId, amount: entry.amount, currency: entry.currency, status: 'captured', reconciled: true }),
              ctx.signal,
            );
          }
          // Only a total of 0 charges nothing. Without a charge to capture, paying out would pay for an
          // order nobody paid for: the step fails for good and the saga parks before any payout.
          if (ctx.state.total === 0) return null;
          throw new BrigadeError('PAYMENT_CHARGE_MISSING', 500, `order ${ctx.state.orderId} was delivered, but the saga holds no charge of its ${ctx.state.total} ${ctx.state.currency}; look reference ${ctx.state.orderId} up in the provider's ledger`);
        },
      },
      payoutRestaurant: { maxAttempts: MONEY_STEP_ATTEMPTS, retryable: retryableUnlessChanged, action: (ctx) => payOut(ctx, `restaurant:${ctx.state.restaurantId}`, payouts(ctx.state, options).restaurant) },
      payoutCourier: { maxAttempts: MONEY_STEP_ATTEMPTS, retryable: retryableUnlessChanged, action: (ctx) => payOut(ctx, `courier:${ctx.state.courierId ?? ''}`, payouts(ctx.state, options).courier) },
    },
    on: {
      'charge.succeeded': (s, e) => {
        // Withheld: the order ended before anything was charged, and nothing was sent. The saga ends
        // (after an expiry already queued, which then finds the order ended).
        if ((e.data as Partial<ChargeWithheld> | null)?.withheld === true) {
          const next = { ...s, chargeWithheld: true };
          return s.expiring === true ? { state: next } : { state: next, complete: true };
        }
        return afterCharge({ ...s, chargeId: (e.data as Charge | null)?.id ?? null, charged: true });
      },
      'charge.failed': (s, e) => {
        const failure = e.data as { code: string; message: string };
        if (failure.code === 'PAYMENT_PROVIDER_CREDENTIALS') {
          // The platform's key, not the customer's payment: the order waits for a person instead of being cancelled.
          // Only a first attempt ends here (after a failed one it is PAYMENT_CHARGE_OUTCOME_UNKNOWN, below).
          // A delivered order is not cancelled: the reason offers the charge, capture and payouts instead.
          if (s.outcome === 'delivered') return { park: deliveredNothingCharged(s, failure) };
          return {
            park:
              `charge: ${failure.message}; nothing was charged. (The provider's ledger held no authorization under key ${s.orderId}:charge before this first attempt, which it refused.) ` +
              `Once the provider takes the platform's credentials again, 'brigade sagas resume ${s.orderId}' charges under that key; or cancel the order and 'brigade sagas close ${s.orderId} --reason "what you did"'`,
          };
        }
        if (failure.code === 'PAYMENT_CHARGE_OUTCOME_UNKNOWN') {
          if (s.outcome === 'delivered') return { park: deliveredOutcomeUnknown(s, `charge: ${failure.message}. Whether the customer was charged is unknown.`) };
          return {
            park:
              `charge: ${failure.message}. Whether the customer was charged is unknown: before closing, look reference ${s.orderId} up in the provider's ledger. ` +
              `An authorization under key ${s.orderId}:charge means the customer was charged (capture it if the order was delivered, else refund it and cancel the order); ` +
              `none means nothing was charged (cancel the order, or let the customer order again); then 'brigade sagas close ${s.orderId} --reason "what you did"'. ` +
              `Or 'brigade sagas resume ${s.orderId}' charges again: it looks key ${s.orderId}:charge up in the ledger first and goes on with an authorization it finds there; ` +
              `without one it needs a card on file and the platform's credentials accepted`,
          };
        }
        if (!NOTHING_CHARGED.has(failure.code)) {
          if (s.outcome === 'delivered') return { park: deliveredOutcomeUnknown(s, `charge: no answer says whether the card was charged (${failure.code}: ${failure.message}).`) };
          return {
            park:
              `charge: no answer says whether the card was charged (${failure.code}: ${failure.message}). ` +
              `Once the payment provider answers, 'brigade sagas resume ${s.orderId}' charges again: it first looks key ${s.orderId}:charge up in the provider's ledger and goes on with an authorization it finds there. ` +
              `Or settle it by hand: look up reference ${s.orderId} in the provider's ledger; an authorization under key ${s.orderId}:charge means the customer was charged ` +
              `(capture it if the order was delivered, else refund it and cancel the order), none means nothing was charged (cancel the order, or let the customer order again); ` +
              `then 'brigade sagas close ${s.orderId} --reason "what you did"'`,
          };
        }
        const next = { ...s, chargeFailed: true };
        // The order already ended: nothing was charged and there is nothing to cancel. The saga ends,
        // after an expiry already queued behind the charge (the accept deadline fired while the charge
        // was in flight), which then finds the order ended, as a withheld charge does. Before, it
        // completed with `expire` pending: the runner could not record the refusal and parked the saga
        // (SAGA_OUTCOME_UNRECORDED, payment `unknown`, the customer never told the card was declined).
        if (s.outcome === 'rejected' || s.outcome === 'cancelled') return s.expiring === true ? { state: next } : { state: next, complete: true };
        // Delivered while the charge was in flight or parked (a resumed charge declined, say): failing
        // would undo `order`, a cancel ordering refuses for a delivered order (422), and the saga ended
        // `failed` saying its compensation failed. A delivered order is never undone (decision 0079):
        // the saga parks with the charge at its head, nothing captured or paid out, for a person.
        if (s.outcome === 'delivered') return { park: deliveredNothingCharged(s, failure) };
        return { state: next, fail: `charge failed: ${failure.message}` };
      },
      'refund.succeeded': (s) => ({ state: s, complete: true }),
      'refund.failed': (s, e) => {
        const failure = e.data as { code: string; message: string };
        const left = resumeOrClose(s, `voids charge ${s.chargeId ?? '?'} if it is only authorized (key ${s.orderId}:refund:void), else refunds it in full (key ${s.orderId}:refund)`);
        // No answer, and no void or refund under its key in the ledger (or no ledger): unknown, not "failed for good".
        if (failure.code === 'PAYMENT_OUTCOME_UNKNOWN') {
          const voiding = failure.message.includes(`(key ${s.orderId}:refund:void)`);
          const look = voiding ? lookAgain('void', 'the authorization was released') : lookAgain('refund', 'the customer was refunded');
          return { park: `refund of the ${s.outcome} order: ${failure.message}; the order needs nothing more. ${look} ${left}` };
        }
        return { park: `refund of the ${s.outcome} order failed for good (${failure.code}: ${failure.message}); the order needs nothing more. ${left}` };
      },
      'payoutRestaurant.succeeded': (s) => (s.courierId === null ? { complete: true } : {}),
      'payoutCourier.succeeded': () => ({ complete: true }),
      'capture.failed': parkDelivered('capture', 'capture', 'the charge was captured', (s) => `capture charge ${s.chargeId ?? '?'} (key ${s.orderId}:capture), then ${payoutsLeft(s, 'payoutRestaurant')}`),
      'payoutRestaurant.failed': parkDelivered('payoutRestaurant', 'payout', 'the restaurant was paid', (s) => payoutsLeft(s, 'payoutRestaurant')),
      'payoutCourier.failed': parkDelivered('payoutCourier', 'payout', 'the courier was paid', (s) => payoutsLeft(s, 'payoutCourier')),
      'order.accepted': (s) => (s.accepted || ended(s) ? {} : { state: { ...s, accepted: true }, cancel: ['accept'] }),
      'order.rejected': orderEnded('rejected'),
      'order.cancelled': orderEnded('cancelled'),
      'courier.assigned': (s, e) => {
        if (ended(s)) return {};
        const { courierId, assignment } = e.data as { courierId: string; assignment?: unknown };
        const numbered = Number.isSafeInteger(assignment) ? (assignment as number) : undefined;
        // An older assignment delivered late (a retry, a competing worker) is not the courier to pay:
        // ordering numbers an order's assignments. Unnumbered ones (recorded before that) apply as they come.
        if (numbered !== undefined && s.courierAssignment !== undefined && numbered <= s.courierAssignment) return {};
        return { state: { ...s, courierId, ...(numbered === undefined ? {} : { courierAssignment: numbered }) } };
      },
      'order.delivered': (s, e) => {
        if (ended(s) || s.chargeFailed) return {};
        // The courier who delivered, from the event itself: a CourierAssigned taken after it (a retry, a
        // competing worker) is ignored once the order ended, and the courier went unpaid.
        const deliveredBy = (e.data as { courierId?: unknown } | undefined)?.courierId;
        const next = { ...s, outcome: 'delivered' as const, ...(typeof deliveredBy === 'string' ? { courierId: deliveredBy } : {}) };
        return landed(s) ? { state: next, run: deliverySteps(next) } : { state: next };
      },
      // Runs after the charge when that is in flight (steps run in turn), so the charge has landed.
      'deadline.accept': (s) => (s.accepted || ended(s) ? {} : { state: { ...s, expiring: true }, run: ['expire'] }),
      'expire.succeeded': (s, e) => {
        // Ended while the charge was in flight, and the charge then withheld or refused: nothing was
        // charged and `expire` was the last work queued, so the saga ends. (Landed, the refund runs.)
        if (ended(s)) return s.chargeWithheld === true || s.chargeFailed ? { complete: true } : {};
        // A string: the answer of a step run before the answer named the courier.
        const answer: OrderExpiry = typeof e.data === 'string' ? { status: e.data, courierId: null } : (e.data as OrderExpiry);
        // Delivered already: no OrderDelivered may ever come (the order's events were dropped or
        // dead-lettered on their way to payments), and noting it accepted left the authorization
        // uncaptured and nobody paid. The delivery steps run now, paying the courier ordering names;
        // an OrderDelivered that does come later finds the order ended.
        if (answer.status === 'delivered') {
          const next = { ...s, accepted: true, outcome: 'delivered' as const, courierId: answer.courierId ?? s.courierId };
          return { state: next, run: deliverySteps(next) };
        }
        if (s.accepted) return {};
        if (answer.status === 'rejected') return orderEnded('rejected')(s);
        // Accepted in time (or picked up: its OrderDelivered is still to come): its OrderAccepted is on its way, and changes nothing then.
        if (answer.status !== 'cancelled') return { state: { ...s, accepted: true } };
        return expired(s);
      },
      'expire.failed': (s, e) => {
        const failure = e.data as { code: string; message: string };
        return {
          park:
            `the accept deadline passed, and ordering could not be asked to cancel order ${s.orderId} if it is still not accepted (${failure.code}: ${failure.message}); nothing was refunded. ` +
            `Once ordering answers, 'brigade sagas resume ${s.orderId}' asks again (and refunds only an order it cancels). ` +
            `Or settle it by hand: an order still placed is cancelled and its charge refunded; then 'brigade sagas close ${s.orderId} --reason "what you did"'`,
        };
      },
    },
  });
}
