/** A wait that its timer, an abort or a call to {@link WakeableSleep.wake} ends, whichever comes first. */
export interface WakeableSleep {
  /** Resolves once the wait has ended; never rejects. */
  readonly done: Promise<void>;
  /** Ends the wait now. Returns whether it was still running (false: it had already ended). */
  wake(): boolean;
}

/**
 * Waits `ms`, or less when one of `signals` aborts (at once when one already has) or when `wake()` is
 * called: the idle wait of a loop that others can wake (a projection's leader, a worker waiting for
 * work, a reader between two polls). Listeners and the timer are removed as soon as it ends.
 *
 * @example
 * pause = wakeableSleep(250, signal); // elsewhere: `if (pause?.wake() !== true) woken = true;`
 * await pause.done;
 * pause = null;
 */
export function wakeableSleep(ms: number, ...signals: ReadonlyArray<AbortSignal | undefined>): WakeableSleep {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  let running = true;
  let end!: () => void;
  const done = new Promise<void>((resolve) => {
    end = () => {
      running = false;
      clearTimeout(timer);
      for (const s of present) s.removeEventListener('abort', end);
      resolve();
    };
    const timer = setTimeout(end, ms);
    for (const s of present) s.addEventListener('abort', end, { once: true });
  });
  if (present.some((s) => s.aborted)) end();
  return {
    done,
    wake() {
      if (!running) return false;
      end();
      return true;
    },
  };
}
