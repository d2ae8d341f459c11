import { IDEMPOTENCY_KEY_RULE } from '../../../api/index.ts';
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

/**
 * 400: a money-moving request came without a valid Idempotency-Key. One code whether the header was
 * missing or broke the rule (as ordering's one VALIDATION_FAILED); `fault` (from `readIdempotencyKey`)
 * says which, and the message the rule.
 */
export class IdempotencyKeyRequiredError extends BrigadeError {
  constructor(fault: string) {
    super('IDEMPOTENCY_KEY_REQUIRED', 400, `${fault}; an Idempotency-Key is ${IDEMPOTENCY_KEY_RULE}, and every charge, capture, void, refund and payout needs one`, { details: { field: 'Idempotency-Key' } });
  }
}

/** 503 injected by the fault settings. */
export class InjectedUnavailableError extends BrigadeError {
  constructor() {
    super('PROVIDER_UNAVAILABLE', 503, 'The payment provider is unavailable (injected fault); retry with the same Idempotency-Key');
  }
}
