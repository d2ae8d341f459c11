/**
 * ISO 4217 currencies whose minor unit is not the hundredth (the standard's List One, "Minor unit"
 * column): none below the unit (JPY, KRW, …), a thousandth (KWD, BHD, …), a ten-thousandth (CLF, UYW).
 */
const EXPONENTS: ReadonlyMap<string, number> = new Map([
  ...['BIF', 'CLP', 'DJF', 'GNF', 'ISK', 'JPY', 'KMF', 'KRW', 'PYG', 'RWF', 'UGX', 'UYI', 'VND', 'VUV', 'XAF', 'XOF', 'XPF'].map((c) => [c, 0] as const),
  ...['BHD', 'IQD', 'JOD', 'KWD', 'LYD', 'OMR', 'TND'].map((c) => [c, 3] as const),
  ...['CLF', 'UYW'].map((c) => [c, 4] as const),
]);

/**
 * The number of decimals of `currency`'s minor unit (ISO 4217): an amount in minor units is the
 * major amount × 10^exponent. 2 for every code the standard gives two, and for one it does not know.
 *
 * @example
 * currencyExponentOf('EUR') // 2: 300 minor units are 3.00 EUR
 * currencyExponentOf('JPY') // 0: 300 minor units are 300 yen
 * currencyExponentOf('KWD') // 3: 300 minor units are 0.300 dinar
 */
export function currencyExponentOf(currency: string): number {
  return EXPONENTS.get(currency) ?? 2;
}
