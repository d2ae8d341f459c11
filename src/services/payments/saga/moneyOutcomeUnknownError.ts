import { BrigadeError } from '../../../platform/errors/index.ts';
import { PaymentRequestChangedError } from '../provider/index.ts';
import type { LedgerLookup } from './findLedgerEntry.ts';

/**
 * 502: no answer says whether a money step other than the charge (a capture, a refund, a payout)
 * moved the money — a timeout, a 5xx, an answer that is not what was asked, a 4xx that is no answer
 * to the key, or the key refused as used with another request — and the provider's ledger, asked
 * after it, held no entry under the step's key (`ledger: 'no entry'`), or could not be read
 * (`ledger: 'unreadable'`). The message says which, with the key and the reference to look up.
 * Retryable (the next attempt sends the same request under the same key, and asks the ledger again),
 * except after a key refused as changed (the same body would be refused again: the step parks at
 * once); past its attempts the step's `.failed` handler parks the saga with it (decision 0079).
 */
export class MoneyOutcomeUnknownError extends BrigadeError {
  readonly retryable: boolean;
  constructor(lookup: LedgerLookup & { readonly what: string }, cause: BrigadeError, ledgerError?: unknown) {
    const ledger =
      ledgerError === undefined
        ? `the provider's ledger held no ${lookup.movement} under key ${lookup.idempotencyKey} (reference ${lookup.reference}) when asked after it`
        : `the provider's ledger could not be read to tell (${ledgerError instanceof Error ? ledgerError.message : String(ledgerError)}): look key ${lookup.idempotencyKey} up under reference ${lookup.reference}`;
    super('PAYMENT_OUTCOME_UNKNOWN', 502, `no answer says whether ${lookup.what} was made (${cause.code}: ${cause.message}); ${ledger}`, {
      cause,
      details: { idempotencyKey: lookup.idempotencyKey, movement: lookup.movement, reference: lookup.reference, code: cause.code, ledger: ledgerError === undefined ? 'no entry' : 'unreadable' },
    });
    this.retryable = !(cause instanceof PaymentRequestChangedError) && (cause as { retryable?: unknown }).retryable === true;
  }
}
