import { currencyExponentOf } from '../../../platform/money/index.ts';

/** Fees by ISO 4217 currency code, in minor units of that currency (`{ EUR: 300, JPY: 500 }`). */
export type CourierFees = Readonly<Record<string, number>>;

/** The default courier fee, in major units of any currency without an entry of its own: 3.00 EUR, 3.000 KWD. */
export const DEFAULT_COURIER_FEE_MAJOR = 3;

/**
 * Default fees of currencies where {@link DEFAULT_COURIER_FEE_MAJOR} major units would pay nothing worth
 * the name: JPY, the one currency without a minor unit that the docs name (3 yen would be the
 * default), gets 500 yen, about the 3.00 EUR of the default. Another such currency (KRW, VND, …) gets 3
 * of its units until the platform sets its fee in `courierFees`.
 */
export const DEFAULT_COURIER_FEES: CourierFees = Object.freeze({ JPY: 500 });

/**
 * The courier's fee of a saga started before the fee was fixed into its state: 300 minor units
 * whatever the currency, as every saga paid then.
 */
export const LEGACY_COURIER_FEE = 300;

/**
 * The courier's payout per delivered order in `currency`, minor units: `fees[currency]`, else
 * {@link DEFAULT_COURIER_FEES}, else {@link DEFAULT_COURIER_FEE_MAJOR} scaled by the currency's ISO
 * 4217 exponent. Before, every currency paid 300 minor units: 3.00 EUR, but 300 JPY and 0.300 KWD.
 *
 * @example
 * courierFeeOf('EUR') // 300
 * courierFeeOf('KWD') // 3000 (3.000 dinar)
 * courierFeeOf('JPY') // 500
 * courierFeeOf('EUR', { EUR: 450 }) // 450
 */
export function courierFeeOf(currency: string, fees: CourierFees = {}): number {
  return fees[currency] ?? DEFAULT_COURIER_FEES[currency] ?? DEFAULT_COURIER_FEE_MAJOR * 10 ** currencyExponentOf(currency);
}
