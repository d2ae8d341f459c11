import { PaymentProviderAnswerInvalidError, type LedgerEntry } from '../provider/index.ts';
import type { LedgerLookup } from './findLedgerEntry.ts';

/** What a money step asked to move: the amount (minor units) and the currency its request sent. */
export interface MoneyAsked {
  readonly amount: number;
  readonly currency: string;
}

/**
 * `entry`, the entry the provider's ledger holds under a money step's key, when it moved what the step
 * asked for (`lookup.expected`); else a {@link PaymentProviderAnswerInvalidError} naming both amounts:
 * the same rule the client applies to a direct answer (decision 0048). Before, an entry under the key
 * was taken as it was: an authorization of 1 USD became the charge of a 2000 EUR order, and the saga
 * went on to capture and pay out from the order's total. Only a provider bug, or a key reused by hand
 * or by another platform on the account, gets there (a correct provider refuses another request under
 * a used key), so the step does not go on: retried (each attempt finds the same entry), it parks with
 * the message, for a person to look the key up.
 *
 * @example
 * const charge = ledgerEntryAsAsked(entry, { what: `the charge (key ${key})`, idempotencyKey: key, movement: 'authorization', reference: orderId, expected: { amount: 2000, currency: 'EUR' } });
 */
export function ledgerEntryAsAsked(entry: LedgerEntry, lookup: LedgerLookup & { readonly what: string; readonly expected: MoneyAsked }): LedgerEntry {
  const { expected } = lookup;
  if (entry.amount === expected.amount && entry.currency === expected.currency) return entry;
  const article = /^[aeiou]/.test(lookup.movement) ? 'an' : 'a';
  throw new PaymentProviderAnswerInvalidError(
    `The payment provider's ledger holds ${article} ${lookup.movement} under key ${lookup.idempotencyKey} (${entry.objectId}) of ${entry.amount} ${entry.currency}, not the ${expected.amount} ${expected.currency} asked for: ` +
      `the saga does not take it as ${lookup.what}, and what the provider did with this step's request is unknown (the key was used for another request: a provider's bug, or a key reused by hand). ` +
      `Look key ${lookup.idempotencyKey} up in its ledger (reference ${lookup.reference}) and settle it by hand`,
  );
}
