import { BrigadeError } from '../../../platform/errors/index.ts';

/**
 * 502: an attempt of the charge failed in a way that, on a first attempt, means nothing was charged
 * (no card on file, the platform's credentials refused: nothing was sent under the key, or the
 * provider did not look at it; a 4xx refusal the provider keeps under no key), but an earlier attempt
 * under the same key failed first, and may have sent a request the provider is still processing: it
 * may yet authorize. So it is an unknown outcome, not "nothing charged". Retryable: the next attempt
 * asks the ledger first and finds an authorization that landed meanwhile; past its attempts the saga
 * parks for a person, never cancels (decision 0079). The cause is the attempt's own error; `what` says
 * what the attempt did ("sent nothing", "was refused with 409, which …").
 */
export class ChargeOutcomeUnknownError extends BrigadeError {
  readonly retryable = true;
  constructor(idempotencyKey: string, attempt: number, cause: BrigadeError, what = 'sent nothing') {
    super(
      'PAYMENT_CHARGE_OUTCOME_UNKNOWN',
      502,
      `attempt ${attempt} ${what} (${cause.code}: ${cause.message}), but an earlier attempt under key ${idempotencyKey} failed first and may still authorize at the provider`,
      { cause, details: { idempotencyKey, attempt, code: cause.code } },
    );
  }
}
