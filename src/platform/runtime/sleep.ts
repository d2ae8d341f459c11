import { setTimeout as pause } from 'node:timers/promises';

/**
 * Waits `ms`, or less when `signal` aborts: at once when it already has (an abort that came while the
 * caller was busy). Resolves either way, never rejects: background loops check the signal themselves.
 *
 * @example
 * while (!signal.aborted) { await pass(); await sleep(60_000, signal); }
 */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return pause(ms, undefined, { signal }).catch(() => undefined);
}
