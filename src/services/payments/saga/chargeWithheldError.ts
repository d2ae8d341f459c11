import { BrigadeError } from '../../../platform/errors/index.ts';

/**
 * 503: the order ended (rejected, cancelled, expired) while its charge was still being retried, and
 * the charge was not sent again: the provider's ledger held no authorization under the key, but an
 * earlier attempt failed first and its request might still be processed. Retryable: the next attempt
 * asks the ledger again, and an authorization that landed meanwhile is taken (and then undone); the
 * last attempt, still finding none, ends the charge as withheld (nothing charged). Nothing is sent on
 * any of these attempts.
 */
export class ChargeWithheldError extends BrigadeError {
  readonly retryable = true;
  constructor(idempotencyKey: string, attempt: number, outcome: string) {
    super(
      'PAYMENT_CHARGE_WITHHELD',
      503,
      `the order was ${outcome} while its charge was being retried, so attempt ${attempt} sent nothing; the provider's ledger holds no authorization under key ${idempotencyKey} yet, ` +
        'and an earlier attempt may still land: the ledger is asked again on the next attempt (nothing to do)',
      { details: { idempotencyKey, attempt, outcome } },
    );
  }
}
