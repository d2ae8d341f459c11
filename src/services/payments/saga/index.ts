export { chargedNothing, MONEY_STEP_ATTEMPTS, parkedChargeChargedNothing, paymentSaga, payoutsOf, PAYMENT_SAGA } from './paymentSaga.ts';
export type { ChargeWithheld, PaymentOutcome, PaymentSagaInput, PaymentSagaOptions, PaymentSagaState } from './paymentSaga.ts';
export { ChargeWithheldError } from './chargeWithheldError.ts';
export { handleOrderEvent, PaymentSagaNotStartedError } from './handleOrderEvent.ts';
export type { OrderEventOutcome } from './handleOrderEvent.ts';
export type { OrderEndedBeforeStart } from './findOrderEndedBeforeStart.ts';
export { PAYMENT_ORDER_EVENTS_SUBSCRIPTION, PAYMENT_ORDER_EVENTS_SUBSCRIPTION_SPEC, paymentOrderEventsHandler, runPaymentOrderEvents } from './runPaymentOrderEvents.ts';
export type { CommandCause, OrderCancellation, OrderExpiry, PaymentMethods, PaymentSagaPorts } from './ports.ts';
