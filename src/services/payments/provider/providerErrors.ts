import { BrigadeError, UnprocessableError } from '../../../platform/errors/index.ts';

/** 402 from the provider's side: the card was declined. */
export class CardDeclinedError extends BrigadeError {
  constructor(last4: string) {
    super('CARD_DECLINED', 402, `The card ending ${last4} was declined`, { details: { last4 } });
  }
}

/** 422: the Idempotency-Key was used before with a different request. */
export class IdempotencyKeyReusedError extends UnprocessableError {
  constructor(key: string) {
    super('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key ${JSON.stringify(key)} was used with a different request; use a new key for a new request`, { key });
  }
}

/** 400: a money-moving request came without an Idempotency-Key. */
export class IdempotencyKeyRequiredError extends BrigadeError {
  constructor() {
    super('IDEMPOTENCY_KEY_REQUIRED', 400, 'Send an Idempotency-Key header (1 to 255 characters) with every charge, capture, refund and payout', { details: { field: 'Idempotency-Key' } });
  }
}

/** 503 injected by the fault settings. */
export class InjectedUnavailableError extends BrigadeError {
  constructor() {
    super('PROVIDER_UNAVAILABLE', 503, 'The payment provider is unavailable (injected fault); retry with the same Idempotency-Key');
  }
}
