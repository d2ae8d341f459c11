/** How often one kind of failure (`op`) reaches the caller's `onError`: degraded modes repeat them many times a second. */
export const REPORT_INTERVAL_MS = 5000;

/**
 * `onError` called at most once per {@link REPORT_INTERVAL_MS} for each `context.op`; a throwing
 * `onError` (a failing logger) is swallowed, so reporting never turns into the failure itself.
 */
export function reportAtMostEvery<C extends { readonly op: string }>(onError: ((error: unknown, context: C) => void) | undefined): (error: unknown, context: C) => void {
  const lastReport = new Map<string, number>();
  return (error, context) => {
    const now = Date.now();
    if (onError === undefined || now - (lastReport.get(context.op) ?? -Infinity) < REPORT_INTERVAL_MS) return;
    lastReport.set(context.op, now);
    try {
      onError(error, context);
    } catch {
      // A failing logger must not turn a degraded read into a failed one, nor stop the bus.
    }
  };
}
