import { Type, type Static, type TSchema } from 'typebox';
import type { SagaDetail, SagaLogEntry } from '../../platform/sagas/index.ts';
import { parkedChargeChargedNothing, type PaymentSagaState } from './saga/index.ts';

const Instant = Type.String({ format: 'date-time' });
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

const PAYMENT_STAGES = ['authorizing', 'authorized', 'declined', 'failed', 'unknown', 'captured', 'paid_out', 'refunding', 'refunded', 'voided', 'settled_by_hand'] as const;

/** The body of `GET /v1/orders/:id/payment` (declared once: validation, types and the OpenAPI page). */
export const PaymentViewSchema = Type.Object(
  {
    orderId: Type.String({ format: 'uuid' }),
    restaurantId: Type.String({ format: 'uuid' }),
    status: Type.Enum(['running', 'completed', 'compensating', 'compensated', 'failed', 'parked', 'closed'], {
      description:
        "the saga's status; failed = a compensation failed for good and a person must act; parked = a person must act, as error says (nothing was undone); " +
        'closed = a person settled a failed or parked one by hand and closed it (error says who and why)',
    }),
    payment: Type.Enum([...PAYMENT_STAGES], {
      description:
        'where the money is: authorizing (charge in flight), authorized, declined (the card was refused: nothing charged), ' +
        "failed (the charge failed otherwise and nothing was charged: no card on file, or, with status parked, the provider refused the platform's credentials; error says what to do), " +
        'unknown (no answer says whether the card was charged: the saga is parked and error says what to do), ' +
        'captured, paid_out (restaurant and courier paid), refunding, refunded, voided (the order ended before anything was charged, or its authorization was released uncaptured), ' +
        'settled_by_hand (the saga is closed: a person settled the money by hand, and error says who, what they did and what the saga had been; ' +
        'or the refund failed for good and a person did it by hand, then had the saga go on: error says who and what); an order whose total is 0 is authorized (of 0) once its charge step is done',
    }),
    outcome: Type.Enum(['open', 'rejected', 'cancelled', 'expired', 'delivered'], { description: 'what ended the order, as the saga saw it' }),
    error: Nullable(
      Type.String({
        description:
          "why the saga failed or waits, and what to do: the operator's text for the restaurant's staff and admins; a customer reads what to do about a charge that " +
          'failed for a reason they can fix once the saga ended (no card on file, a declined card), and otherwise, as a courier does, that the payment needs attention',
      }),
    ),
    cardLast4: Nullable(Type.String({ description: "the last four digits of the card charged; null before a charge, and for the order's courier" })),
    amounts: Type.Object({
      currency: Type.String(),
      total: Type.Integer({ description: 'the order total, minor units' }),
      authorized: Type.Integer(),
      captured: Type.Integer(),
      refunded: Type.Integer(),
      paidOutRestaurant: Nullable(Type.Integer({ description: "paid out to the restaurant; null for its customer and its courier, whose business it is not" })),
      paidOutCourier: Nullable(Type.Integer({ description: 'paid out to the courier; null for the customer' })),
    }),
    steps: Type.Array(
      Type.Object({
        step: Type.String(),
        compensation: Type.Boolean({ description: 'true for the undoing of a completed step' }),
        outcome: Type.Enum(['succeeded', 'failed', 'retrying', 'pending']),
        attempt: Nullable(Type.Integer()),
        at: Nullable(Instant),
        amount: Nullable(Type.Integer({ description: "money the step moved, minor units (a payout's is null for a reader it was not paid to: see amounts)" })),
        reference: Nullable(Type.String({ description: "the provider's id of the charge, refund or payout" })),
        error: Nullable(Type.String()),
      }),
      { description: 'every step outcome in order, then the work still pending' },
    ),
    events: Type.Array(Type.Object({ type: Type.String(), at: Instant }), { description: 'the order events and deadlines the saga took' }),
    deadlines: Type.Array(Type.Object({ name: Type.String(), dueAt: Instant, state: Type.Enum(['open', 'fired', 'cancelled']) })),
    version: Type.Integer(),
    createdAt: Instant,
    updatedAt: Instant,
  },
  { additionalProperties: false },
);

/** The payment of an order, as `GET /v1/orders/:id/payment` answers it. */
export type PaymentView = Static<typeof PaymentViewSchema>;

type Step = PaymentView['steps'][number];
const UNDO = 'undo:';

const numberIn = (data: unknown, field: string): number | null => {
  const value = (data as Record<string, unknown> | null)?.[field];
  return typeof value === 'number' ? value : null;
};
const stringIn = (data: unknown, field: string): string | null => {
  const value = (data as Record<string, unknown> | null)?.[field];
  return typeof value === 'string' ? value : null;
};

/** A step outcome of the log as the view shows it, with the money it moved (from the provider's answer). */
function stepOf(entry: SagaLogEntry): Step {
  const compensation = entry.item.startsWith(UNDO);
  const refund = entry.kind === 'succeeded' && (entry.item === 'refund' || entry.item === `${UNDO}charge`);
  const moved = entry.kind === 'succeeded' && !(refund && (entry.data as { refunded?: unknown } | null)?.refunded !== true);
  return {
    step: compensation ? entry.item.slice(UNDO.length) : entry.item,
    compensation,
    outcome: entry.kind as Step['outcome'],
    attempt: entry.attempt,
    at: entry.at,
    amount: moved ? numberIn(entry.data, 'amount') : null,
    reference: moved ? (stringIn(entry.data, 'refundId') ?? stringIn(entry.data, 'id')) : null,
    error: entry.error,
  };
}

/**
 * What a customer reads of a charge that failed for a reason only they can put right, by its code. The
 * errors' own text is for the restaurant and the platform (the provider's words, keys, commands).
 */
const CUSTOMER_ERRORS: ReadonlyMap<string, string> = new Map([
  ['PAYMENT_METHOD_MISSING', 'No card on file: add one with PUT /v1/customers/me/payment-method and order again'],
  ['PAYMENT_DECLINED', 'Your card was declined: use another card (PUT /v1/customers/me/payment-method) and order again'],
]);

/**
 * The message a customer reads in place of the saga's error when its charge failed for a reason they
 * can fix (no card on file, a declined card) and the saga waits for nothing (nothing pending: the order
 * was cancelled, nothing charged), or `null`: any other failure, or a saga still waiting for a person
 * (a delivered order's refused charge is parked), reads the general message. Before, every failure read
 * "the payment needs attention; the restaurant and the platform can see why", a customer's own as well.
 */
export function customerErrorOf(saga: Pick<SagaDetail<PaymentSagaState>, 'pending' | 'log'>): string | null {
  if (saga.pending.length > 0) return null;
  const chargeOutcome = saga.log.findLast((e) => e.item === 'charge' && (e.kind === 'succeeded' || e.kind === 'failed'));
  if (chargeOutcome?.kind !== 'failed') return null;
  return CUSTOMER_ERRORS.get(stringIn(chargeOutcome.data, 'code') ?? '') ?? null;
}

/**
 * Shapes the payment saga of an order (its state, log and deadlines) for HTTP: the money at each
 * step, as the provider answered it, and where the payment stands.
 */
export function toPaymentView(saga: SagaDetail<PaymentSagaState>): PaymentView {
  const s = saga.state;
  const done = saga.log.filter((e) => e.kind === 'succeeded' || e.kind === 'failed' || e.kind === 'retrying').map(stepOf);
  const pending: Step[] = saga.pending.map((item) => ({
    step: item.startsWith(UNDO) ? item.slice(UNDO.length) : item,
    compensation: item.startsWith(UNDO),
    outcome: 'pending',
    attempt: null,
    at: null,
    amount: null,
    reference: null,
    error: null,
  }));
  const moved = (name: string, compensation = false) =>
    done.filter((d) => d.step === name && d.compensation === compensation && d.outcome === 'succeeded').reduce((sum, d) => sum + (d.amount ?? 0), 0);
  const authorized = moved('charge');
  const refunded = moved('refund') + moved('charge', true);
  const voided = saga.log.some((e) => e.kind === 'succeeded' && (e.item === 'refund' || e.item === `${UNDO}charge`) && (e.data as { voided?: unknown } | null)?.voided === true);
  // A refund of a saga from before the void captured the authorization first (the provider refunds captured charges only).
  const captured = Math.max(moved('capture'), refunded);
  const paidOutRestaurant = moved('payoutRestaurant');
  const paidOutCourier = moved('payoutCourier');
  // The charge's last outcome: a charge that failed, was parked, resumed and then succeeded is charged.
  const chargeOutcome = saga.log.findLast((e) => e.item === 'charge' && (e.kind === 'succeeded' || e.kind === 'failed'));
  const chargeResult = saga.log.find((e) => e.item === 'charge' && e.kind === 'succeeded')?.data;

  const payment: PaymentView['payment'] = (() => {
    // Closed: the money was settled at the provider by hand, which the log does not show; the steps'
    // last outcomes (a charge that failed without an answer) would say failed or authorized.
    if (saga.status === 'closed') return 'settled_by_hand';
    // A refund that failed for good, done by hand at the provider and skipped (settleSagaCompensation):
    // the log has no refund of the provider's to count, and the charge would still read as authorized.
    if (saga.log.some((e) => e.kind === 'event' && e.item === 'settled' && stringIn(e.data, 'item') === `${UNDO}charge`)) return 'settled_by_hand';
    if (refunded > 0) return 'refunded';
    // An authorization released (voided) when the order ended: nothing was taken, nothing refunded.
    if (voided) return 'voided';
    const chargeFailure = chargeOutcome?.kind === 'failed' ? stringIn(chargeOutcome.data, 'code') : null;
    if (saga.pending[0] === 'charge') {
      if (saga.status !== 'parked') return 'authorizing';
      // Parked after a refusal (a delivered order's card declined, decision 0079), or the platform's
      // credentials refused on a first attempt: nothing charged, and known (the park reason says so).
      // Before, the credentials' park showed `unknown`, which is for a charge nobody knows the outcome of.
      if (!parkedChargeChargedNothing(chargeFailure)) return 'unknown';
    }
    if (chargeOutcome?.kind === 'failed') return chargeFailure === 'PAYMENT_DECLINED' ? 'declined' : 'failed';
    if (saga.status === 'completed' && s.outcome === 'delivered') return 'paid_out';
    if (captured > 0) return 'captured';
    // A failed saga keeps the compensations it could not run pending (its refund among them), but runs nothing: not refunding.
    if (authorized > 0) return saga.status !== 'failed' && saga.pending.some((p) => p === 'refund' || p === `${UNDO}charge`) ? 'refunding' : 'authorized';
    // A total of 0 needs no authorization: once its charge step is done, the order goes on as if authorized (of 0).
    if (s.charged === true && saga.status === 'running' && (s.outcome === 'open' || s.outcome === 'delivered')) return 'authorized';
    return saga.status === 'running' && s.chargeId === null && !s.chargeFailed && saga.pending.includes('charge') ? 'authorizing' : 'voided';
  })();

  return {
    orderId: s.orderId,
    restaurantId: s.restaurantId,
    status: saga.status,
    payment,
    outcome: s.outcome,
    error: saga.error,
    cardLast4: stringIn(chargeResult, 'cardLast4'),
    amounts: { currency: s.currency, total: s.total, authorized, captured, refunded, paidOutRestaurant, paidOutCourier },
    steps: [...done, ...pending],
    events: saga.log.filter((e) => e.kind === 'started' || e.kind === 'event').map((e) => ({ type: e.kind === 'started' ? 'saga.started' : e.item, at: e.at })),
    deadlines: saga.deadlines.map((d) => ({ name: d.name, dueAt: d.dueAt, state: d.firedAt !== null ? 'fired' : d.cancelledAt !== null ? 'cancelled' : 'open' })),
    version: saga.version,
    createdAt: saga.createdAt,
    updatedAt: saga.updatedAt,
  };
}
