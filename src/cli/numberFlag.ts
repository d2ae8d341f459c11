import { UsageError } from './usage.ts';

/** What {@link numberFlag} takes for a flag: its range, and whether a fraction makes sense. */
export interface NumberFlagRange {
  /** The smallest value taken (or, with `aboveMin`, the value every one must be above). */
  readonly min: number;
  /** The largest value taken. */
  readonly max: number;
  /** Only values above `min` (a rate, a timeout: above 0), not `min` itself. */
  readonly aboveMin?: boolean;
  /**
   * A fraction makes sense (a rate, a share, seconds to wait): digits with an optional decimal point
   * (`2`, `0.5`, `.5`). Otherwise (a count, a limit, a port) a whole number: digits only.
   */
  readonly fraction?: boolean;
  /** What the number counts, said in the message: `seconds` gives "a whole number of seconds from …". */
  readonly unit?: string;
  /** Said after the largest value, e.g. `(30 days)`. */
  readonly maxNote?: string;
}

/** A whole number as a person writes one: digits only (no sign, point, exponent, hex prefix or space). */
const WHOLE = /^\d+$/;
/** A number with an optional fraction, in plain decimal digits: `2`, `0.5`, `.5`. */
const DECIMAL = /^(?:\d+(?:\.\d+)?|\.\d+)$/;

/**
 * The value of the number flag `--flag` given as `raw`, or a {@link UsageError} (exit 2, with
 * `usage`) that says what the flag takes: its range and how to write it. Every number flag of the
 * CLI goes through here, so that they all take the same forms: `Number()` alone took `1e3`, `0x10`,
 * `1.0` and ` 5` for a count, and each command said its range its own way.
 *
 * @example
 * const limit = values.limit === undefined ? 100 : numberFlag('limit', values.limit, { min: 1, max: 10_000 }, usage);
 * const rate = numberFlag('rate', values.rate, { min: 0, aboveMin: true, max: 1000, fraction: true }, usage);
 */
export function numberFlag(flag: string, raw: string, range: NumberFlagRange, usage: string): number {
  const n = Number(raw);
  const written = (range.fraction === true ? DECIMAL : WHOLE).test(raw);
  const inRange = (range.aboveMin === true ? n > range.min : n >= range.min) && n <= range.max;
  if (written && inRange) return n;
  throw new UsageError(`--${flag} must be ${describeNumberFlag(range)}, got ${JSON.stringify(raw)}`, usage);
}

/**
 * What a flag of `range` takes, in words: `a whole number from 1 to 10000, in digits only`, `a number
 * of seconds above 0, at most 3600, in digits, with a decimal point for a fraction (e.g. 0.5)`.
 */
function describeNumberFlag(range: NumberFlagRange): string {
  const what = `a ${range.fraction === true ? '' : 'whole '}number${range.unit === undefined ? '' : ` of ${range.unit}`}`;
  const max = `${range.max}${range.maxNote === undefined ? '' : ` ${range.maxNote}`}`;
  const span = range.aboveMin === true ? `above ${range.min}, at most ${max}` : `from ${range.min} to ${max}`;
  const form = range.fraction === true ? 'in digits, with a decimal point for a fraction (e.g. 0.5)' : 'in digits only';
  return `${what} ${span}, ${form}`;
}
