import type { BrigadeError } from '../../../platform/errors/index.ts';
import {
  PaymentProviderAnswerInvalidError,
  PaymentProviderOutcomeUnknownError,
  PaymentProviderTimeoutError,
  PaymentProviderUnavailableError,
  PaymentRequestChangedError,
  type LedgerEntry,
  type PaymentProviderClient,
} from '../provider/index.ts';
import { findLedgerEntry, type LedgerLookup } from './findLedgerEntry.ts';
import { ledgerEntryAsAsked, type MoneyAsked } from './ledgerEntryAsAsked.ts';
import { MoneyOutcomeUnknownError } from './moneyOutcomeUnknownError.ts';

/**
 * Whether a provider call's failure leaves its outcome unknown: no answer (a timeout, a reset, a 5xx),
 * an answer that is not what was asked, a 4xx that is no answer to its key (400, 404, 409), or its
 * key's earlier request refused as different. The provider may have acted.
 */
export const providerOutcomeUnknown = (error: unknown): error is BrigadeError =>
  error instanceof PaymentProviderTimeoutError ||
  error instanceof PaymentProviderUnavailableError ||
  error instanceof PaymentProviderAnswerInvalidError ||
  error instanceof PaymentProviderOutcomeUnknownError ||
  error instanceof PaymentRequestChangedError;

/**
 * Runs a money step's call to the provider (`send`) and, when it fails with an outcome nobody knows
 * ({@link providerOutcomeUnknown}), asks the provider's ledger what the step's key did: an entry under
 * it of the amount and currency asked (`lookup.expected`) means the money moved, and the step succeeds
 * with `fromEntry(entry)`; one of another amount or currency is not taken ({@link ledgerEntryAsAsked}:
 * `PAYMENT_PROVIDER_ANSWER_INVALID`, naming both); none, or a ledger that cannot be read, fails the step
 * with a {@link MoneyOutcomeUnknownError} that says which (retried with the same key, then parked). Any
 * other failure (a refusal the provider keeps under the key, a call abandoned on `signal`) is thrown as
 * it is, without a ledger read. `signal`: the step's, which the ledger read carries too.
 * The capture, the refund (and the refund that compensates the charge) and the payouts all run through
 * it; the charge asks the ledger on every attempt itself, with {@link findLedgerEntry}. Before, those
 * steps parked as "failed for good" when every attempt's answer was lost, though the money had moved.
 *
 * @example
 * await reconcileWithLedger(provider, { what: `the payout (key ${key})`, idempotencyKey: key, movement: 'payout', reference: destination, expected: { amount, currency } },
 *   () => provider.payout(request, key, ctx.signal), (entry) => ({ id: entry.objectId, amount: entry.amount, reconciled: true }), ctx.signal);
 */
export async function reconcileWithLedger<T>(
  provider: Pick<PaymentProviderClient, 'ledger'>,
  lookup: LedgerLookup & { readonly what: string; readonly expected: MoneyAsked },
  send: () => Promise<T>,
  fromEntry: (entry: LedgerEntry) => T,
  signal?: AbortSignal,
): Promise<T> {
  try {
    return await send();
  } catch (error) {
    if (!providerOutcomeUnknown(error)) throw error;
    let entry: LedgerEntry | null;
    try {
      entry = await findLedgerEntry(provider, lookup, signal);
    } catch (ledgerError) {
      throw new MoneyOutcomeUnknownError(lookup, error, ledgerError ?? 'no reason given');
    }
    if (entry === null) throw new MoneyOutcomeUnknownError(lookup, error);
    return fromEntry(ledgerEntryAsAsked(entry, lookup));
  }
}
