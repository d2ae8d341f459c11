import { BrigadeError } from '../../../platform/errors/index.ts';
import { MAX_ORDER_TOTAL } from '../../../platform/money/index.ts';
import type { CourierFees } from './courierFeeOf.ts';

/** A table of courier fees that would pay a wrong amount (a code that is no currency, a fee that is no whole number of minor units). */
export class CourierFeesInvalidError extends BrigadeError {
  constructor(currency: string, fee: unknown) {
    super(
      'PAYMENT_COURIER_FEES_INVALID',
      500,
      `The courier fee of '${currency}' is ${String(fee)}: give each currency by its ISO 4217 code (three capital letters) a whole number of its minor units, 0 to ${MAX_ORDER_TOTAL}, in the payments service's courierFees`,
      { details: { currency, fee } },
    );
  }
}

/** Returns `fees` frozen, or throws {@link CourierFeesInvalidError} naming the first entry that is wrong. */
export function checkCourierFees(fees: CourierFees): CourierFees {
  for (const [currency, fee] of Object.entries(fees)) {
    if (!/^[A-Z]{3}$/.test(currency) || !Number.isSafeInteger(fee) || fee < 0 || fee > MAX_ORDER_TOTAL) throw new CourierFeesInvalidError(currency, fee);
  }
  return Object.freeze({ ...fees });
}
