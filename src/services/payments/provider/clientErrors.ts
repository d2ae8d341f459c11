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

/** The provider refused the request (4xx other than 402): `details.providerCode` says why. Not retryable. */
export class PaymentRejectedError extends BrigadeError {
  readonly retryable = false;
  constructor(providerStatus: number, providerCode: string, message: string) {
    super('PAYMENT_REJECTED', 422, message, { details: { providerStatus, providerCode } });
  }
}
