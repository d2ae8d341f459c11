import type { LedgerEntry, PaymentProviderClient } from '../provider/index.ts';

/** Which entry of the provider's ledger a money step's key made. */
export interface LedgerLookup {
  /** The step's idempotency key (`${sagaId}:${step}`, `…:compensate` for a compensation). */
  readonly idempotencyKey: string;
  /** The movement the step makes under that key. */
  readonly movement: LedgerEntry['movement'];
  /**
   * What the ledger is read by: the order id for an authorization, a capture or a refund (the
   * charge's reference), the destination for a payout (`restaurant:<id>`, `courier:<id>`).
   */
  readonly reference: string;
}

/**
 * The entry the provider's ledger holds for `lookup`'s movement under its key, or `null` when it holds
 * none: what a money step whose answer was lost did. Throws what the ledger read throws (the ledger
 * could not be read: nothing is known). `signal`: the step's, which abandons the read.
 *
 * @example
 * const refund = await findLedgerEntry(provider, { idempotencyKey: `${orderId}:refund`, movement: 'refund', reference: orderId });
 */
export async function findLedgerEntry(provider: Pick<PaymentProviderClient, 'ledger'>, lookup: LedgerLookup, signal?: AbortSignal): Promise<LedgerEntry | null> {
  // By the key and movement too: the provider answers those entries only (an index), where the
  // reference alone read a destination's whole payout history. Still matched here, for a provider
  // that ignores a filter it does not know.
  const entries = await provider.ledger({ reference: lookup.reference, idempotencyKey: lookup.idempotencyKey, movement: lookup.movement }, signal);
  return entries.find((e) => e.movement === lookup.movement && e.idempotencyKey === lookup.idempotencyKey) ?? null;
}
