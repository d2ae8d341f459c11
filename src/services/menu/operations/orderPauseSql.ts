
/** The longest pause with an `until` that staff may set (decision 0094); without `until`, a pause lasts until resumed. */
export const MAX_PAUSE_DAYS = 7;

/** The longest pause "for N minutes" (`forMinutes`): {@link MAX_PAUSE_DAYS} days, the bound of `until`. */
export const MAX_PAUSE_MINUTES = MAX_PAUSE_DAYS * 24 * 60;

/**
 * A restaurant's pause of new orders as the API shows it: `takingOrders` false while it lasts. A pause
 * whose `until` has passed is over (the restaurant takes orders), whether or not anyone resumed.
 */
export interface OrderPause {
  /** What staff told customers, or null. */
  readonly reason: string | null;
  /** When the restaurant takes orders again by itself (RFC 3339 in UTC), or null: when its staff resume. */
  readonly until: string | null;
  /** When the pause was made (RFC 3339 in UTC). */
  readonly since: string;
}
