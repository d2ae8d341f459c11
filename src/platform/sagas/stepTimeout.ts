/**
 * How long a step's action (or compensation) may take before its runner stops waiting for it, when
 * neither the step (`SagaStep.timeoutMs`) nor the runner (`stepTimeoutMs`) says: 5 minutes. Far above a
 * step that calls a provider with its own timeouts (the payment charge: a ledger read and up to three
 * calls of at most 20 s each), so a slow step is not cut short; short enough that a step that never
 * settles holds its saga and its runner for minutes, not for ever.
 */
export const DEFAULT_STEP_TIMEOUT_MS = 300_000;

/** The longest step timeout: `setTimeout`'s limit (2^31 − 1 ms, about 24.8 days); a longer one would fire at once. */
export const MAX_STEP_TIMEOUT_MS = 2_147_483_647;

/** Whether `ms` is a step timeout a runner can keep: a whole number of ms from 1 to {@link MAX_STEP_TIMEOUT_MS}. */
export function isStepTimeout(ms: number): boolean {
  return Number.isSafeInteger(ms) && ms >= 1 && ms <= MAX_STEP_TIMEOUT_MS;
}
