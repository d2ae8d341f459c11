/** A charge as the provider answers it. */
export interface Charge {
  readonly id: string;
  readonly reference: string;
  readonly cardLast4: string;
  readonly amount: number;
  readonly currency: string;
  readonly status: 'authorized' | 'captured' | 'declined' | 'voided';
  readonly refundedAmount: number;
}

/** A refund of (part of) a captured charge. */
export interface Refund {
  readonly id: string;
  readonly chargeId: string;
  readonly amount: number;
  readonly currency: string;
}

/** A payout to a destination account (e.g. a restaurant's). */
export interface Payout {
  readonly id: string;
  readonly destination: string;
  readonly amount: number;
  readonly currency: string;
}

/** The kinds of movement the ledger holds (its `movement` check says the same in SQL: `ensureProviderSchema`). */
export const LEDGER_MOVEMENTS = ['authorization', 'capture', 'void', 'refund', 'payout'] as const;

/** One movement of money in the provider's ledger. */
export interface LedgerEntry {
  readonly id: number;
  readonly movement: (typeof LEDGER_MOVEMENTS)[number];
  readonly objectId: string;
  readonly chargeId: string | null;
  readonly reference: string | null;
  readonly amount: number;
  readonly currency: string;
  readonly idempotencyKey: string;
  readonly createdAt: string;
}

/** A row of payment_provider.charges. */
export interface ChargeRow {
  id: string;
  reference: string;
  card_last4: string;
  amount: string;
  currency: string;
  status: Charge['status'];
  refunded_amount: string;
}

/** Maps a charges row to its resource. */
export function chargeOf(row: ChargeRow): Charge {
  return {
    id: row.id,
    reference: row.reference,
    cardLast4: row.card_last4,
    amount: Number(row.amount),
    currency: row.currency,
    status: row.status,
    refundedAmount: Number(row.refunded_amount),
  };
}
