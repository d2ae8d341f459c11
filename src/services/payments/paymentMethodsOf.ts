import { BrigadeError, UnprocessableError } from '../../platform/errors/index.ts';
import type { CardsOnFile } from './ports.ts';
import type { PaymentMethods } from './saga/ports.ts';

/** 422: the customer keeps no card on file and there is no default card. The saga does not retry it. */
export class PaymentMethodMissingError extends UnprocessableError {
  readonly retryable = false;
  constructor(customerId: string) {
    super('PAYMENT_METHOD_MISSING', `Customer ${customerId} has no card on file (PUT /v1/customers/me/payment-method) and PAYMENT_DEFAULT_CARD is none`, { customerId });
  }
}

/**
 * 503: the card on file could not be read (its store failed: a database blip, a timeout); nothing was
 * sent to the provider. Retryable: the card may well be there. The cause is the store's error.
 */
export class PaymentMethodUnavailableError extends BrigadeError {
  readonly retryable = true;
  constructor(customerId: string, cause: unknown) {
    super(
      'PAYMENT_METHOD_UNAVAILABLE',
      503,
      `The card on file of customer ${customerId} could not be read (${cause instanceof Error ? cause.message : String(cause)}); nothing was sent to the payment provider. Check the payments database; the charge is retried`,
      { cause, details: { customerId } },
    );
  }
}

/**
 * The saga's payment methods: the customer's card on file, asked at charge time; else `defaultCard`
 * (`PAYMENT_DEFAULT_CARD`); with neither, the charge fails for good and the order is cancelled.
 *
 * @example
 * const methods = paymentMethodsOf(ports.cards, config.paymentDefaultCard);
 */
export function paymentMethodsOf(cards: CardsOnFile, defaultCard: string | null): PaymentMethods {
  return {
    async cardFor({ customerId }) {
      const card = (await cards.cardOf(customerId)) ?? defaultCard;
      if (card === null) throw new PaymentMethodMissingError(customerId);
      return card;
    },
  };
}
