/** Faults the provider injects, to exercise the platform's retries, timeouts and compensations. */
export interface ProviderFaults {
  /** Added to every money-moving request before it is handled. Default 0. */
  readonly latencyMs: number;
  /** Share (0..1) of money-moving requests answered 503 before anything happens. Default 0. */
  readonly errorRate: number;
  /**
   * Share (0..1) of money-moving requests that DO take effect and commit, but whose answer is then
   * held for {@link hangMs}, longer than a client waits: the lost answer an idempotency key exists for.
   */
  readonly timeoutRate: number;
  /** How long a timed-out answer is held. Default 30 000 ms (cut short when the server closes). */
  readonly hangMs: number;
  /** A card number that is always declined (402), or `null`. Default `4000000000000002`. */
  readonly declineCard: string | null;
}

/** No faults, and the conventional always-declined test card. */
export const NO_FAULTS: ProviderFaults = Object.freeze({ latencyMs: 0, errorRate: 0, timeoutRate: 0, hangMs: 30_000, declineCard: '4000000000000002' });
