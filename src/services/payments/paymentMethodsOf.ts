import { UnprocessableError } from '../../platform/errors/index.ts';
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
