import { BrigadeError } from '../../../platform/errors/index.ts';

/** The provider declined the payment (its 402). Not retryable: the card will decline again. */
export class PaymentDeclinedError extends BrigadeError {
  readonly retryable = false;
  constructor(message: string) {
    super('PAYMENT_DECLINED', 402, message);
  }
}

/** The provider answered 5xx or could not be reached. Retry with the same idempotency key. */
export class PaymentProviderUnavailableError extends BrigadeError {
  readonly retryable = true;
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('PAYMENT_PROVIDER_UNAVAILABLE', 503, message, options);
  }
}

/**
 * The provider did not answer within the client's timeout. The request may have taken effect:
 * retry with the same idempotency key, which either replays the stored answer or runs it once.
 */
export class PaymentProviderTimeoutError extends BrigadeError {
  readonly retryable = true;
  constructor(timeoutMs: number, options: { cause?: unknown } = {}) {
    super('PAYMENT_PROVIDER_TIMEOUT', 504, `The payment provider did not answer within ${timeoutMs} ms; retry with the same idempotency key`, options);
  }
}

/**
 * The provider refused the idempotency key: it was used before with a different request (its 422
 * IDEMPOTENCY_KEY_REUSED), e.g. a charge retried after the card on file changed. The first request's
 * outcome is unknown to the caller: look the key up in the provider's ledger. Retryable, so that a
 * saga step asks the ledger again on its next attempt (the first request may still be in flight).
 */
export class PaymentRequestChangedError extends BrigadeError {
  readonly retryable = true;
  constructor(idempotencyKey: string, message: string) {
    super('PAYMENT_REQUEST_CHANGED', 409, `${message}. Look the key up in the provider's ledger to learn what the first request did`, { details: { idempotencyKey } });
  }
}

/**
 * The provider answered 2xx with a body that is not what was asked for (no id, another amount or
 * currency, another charge): whether it acted, and how, is unknown. Retryable: a saga step asks the
 * ledger under its key, then sends again with the same key; past its attempts it parks for a person.
 * Treated as "charged" instead, an order went on, and was paid out, with no money charged.
 */
export class PaymentProviderAnswerInvalidError extends BrigadeError {
  readonly retryable = true;
  constructor(message: string) {
    super('PAYMENT_PROVIDER_ANSWER_INVALID', 502, message);
  }
}

/**
 * The caller's signal aborted the call before its answer came (a saga runner stopping aborts its step's
 * `ctx.signal`, which the payment steps pass to every call): the request was abandoned, so whether the
 * provider acted on it (`details.idempotencyKey`, absent for a read) is unknown, as after a timeout.
 * Retryable: the step runs again under the same key (the charge reads the ledger first), so the money
 * moves once. The cause is the signal's reason.
 */
export class PaymentProviderCallAbortedError extends BrigadeError {
  readonly retryable = true;
  constructor(method: string, path: string, idempotencyKey: string | undefined, options: { cause?: unknown } = {}) {
    const why = options.cause instanceof Error ? options.cause.message : 'no reason given';
    super(
      'PAYMENT_PROVIDER_CALL_ABORTED',
      503,
      `The call ${method} ${path} to the payment provider was abandoned by its caller (${why}) before an answer came` +
        (idempotencyKey === undefined ? '' : `; whether it acted under key ${idempotencyKey} is unknown: the same key is sent again on the next attempt, and the ledger tells`),
      { ...options, details: { method, path, ...(idempotencyKey === undefined ? {} : { idempotencyKey }) } },
    );
  }
}

/**
 * The provider refused the platform's credentials (401, 403): the platform is misconfigured, not the
 * customer's payment. Not retryable, and not a refusal of the payment: a saga parks (a person fixes
 * the key, then resumes) instead of cancelling every order placed meanwhile.
 */
export class PaymentProviderCredentialsError extends BrigadeError {
  readonly retryable = false;
  constructor(providerStatus: number, message: string) {
    super('PAYMENT_PROVIDER_CREDENTIALS', 502, message, { details: { providerStatus } });
  }
}

/**
 * The provider answered a money-moving request with a 4xx that is no answer to its key: 409 (a request
 * with that key is still in progress, as Stripe answers a concurrent one), 404 (no such route: a wrong
 * base path, say) or 400 (a request it did not take up; Stripe answers a key reused with other
 * parameters so). Whether the key's request moved money is unknown: an earlier attempt under it may
 * still be processed. Retryable with the same key; a saga step asks the ledger, then parks for a person
 * past its attempts. Read as a refusal ({@link PaymentRejectedError}), a charge retried after a timeout
 * was "nothing charged": the order was cancelled and the first attempt's authorization never refunded.
 */
export class PaymentProviderOutcomeUnknownError extends BrigadeError {
  readonly retryable = true;
  constructor(providerStatus: number, providerCode: string, message: string) {
    super('PAYMENT_PROVIDER_OUTCOME_UNKNOWN', 502, message, { details: { providerStatus, providerCode } });
  }
}

/**
 * The provider refused the request (a 4xx other than 402, 401, 403, 408 and 429, and on a money-moving
 * call other than 400, 404 and 409): `details.providerCode` says why, and `details.chargeStatus` the
 * charge's status when the provider named it (a capture or void refused for a charge in another). Not retryable.
 */
export class PaymentRejectedError extends BrigadeError {
  readonly retryable = false;
  constructor(providerStatus: number, providerCode: string, message: string, chargeStatus?: string) {
    super('PAYMENT_REJECTED', 422, message, { details: { providerStatus, providerCode, ...(chargeStatus === undefined ? {} : { chargeStatus }) } });
  }
}
