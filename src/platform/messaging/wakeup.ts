/**
 * A resettable wake-up: `wait(ms)` resolves at the first of `wake()`, the timeout or the abort signal.
 * A `wake()` while nobody waits is remembered, so a notification between two waits is not lost.
 */
export function createWakeup(signal: AbortSignal): { wake(): void; wait(ms: number): Promise<void> } {
  let pending = false;
  let resolveCurrent: (() => void) | null = null;
  const wake = () => {
    if (resolveCurrent) {
      const r = resolveCurrent;
      resolveCurrent = null;
      r();
    } else pending = true;
  };
  signal.addEventListener('abort', wake, { once: true });
  return {
    wake,
    wait: (ms) => {
      if (pending || signal.aborted) {
        pending = false;
        return Promise.resolve();
      }
      return new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          resolveCurrent = null;
          resolve();
        }, ms);
        resolveCurrent = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    },
  };
}
