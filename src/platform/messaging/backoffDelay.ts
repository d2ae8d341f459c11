import type { BackoffOptions } from './types.ts';

/**
 * The delay before retry number `attempt` (1 = the first retry): exponential, capped, with "equal
 * jitter" — half of the step is fixed, half random — so retries of many messages that failed together
 * spread out, yet no retry comes back at once (full jitter can pick ~0 ms and hammer a sick dependency).
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialMs ?? 200;
  const factor = options.factor ?? 2;
  const max = options.maxMs ?? 60_000;
  const step = Math.min(max, initial * factor ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}
