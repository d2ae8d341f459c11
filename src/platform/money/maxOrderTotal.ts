/**
 * The most one order may cost, in minor units of its currency (1,000,000.00 in a currency of two
 * decimals; 100,000,000 in one with no minor unit, such as VND or KRW). One definition for every
 * service that relates an amount to it: ordering refuses an order above it at placement
 * (`ORDER_TOTAL_TOO_HIGH`) instead of charging an amount no card takes; the menu caps an item's price
 * at it and refuses a write after which an item's cheapest order would cost more
 * (`MENU_PRICE_ABOVE_ORDER_LIMIT`, decision 0085), so that it never shows an item no one can order.
 */
export const MAX_ORDER_TOTAL = 100_000_000;
