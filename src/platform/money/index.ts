/** Amounts of money that more than one service relates to: in minor units of a restaurant's currency. */
export { MAX_ORDER_TOTAL } from './maxOrderTotal.ts';
export { currencyExponentOf } from './currencyExponentOf.ts';
