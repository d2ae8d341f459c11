import { wakeableSleep, type WakeableSleep } from './wakeableSleep.ts';

/** A loop's waits that others can cut short: see {@link createWakeup}. */
export interface Wakeup {
  /** Ends the wakeable wait running now, or, when none runs, the next one as soon as it starts. */
  wake(): void;
  /**
   * Waits `ms`, less on abort; a wakeable wait (the default) also ends on {@link Wakeup.wake}. A wake
   * while no wakeable wait runs is remembered, so a notification between two waits is not lost; a
   * wait with `wakeable: false` (a loop pacing itself) leaves it for the next wakeable one.
   */
  wait(ms: number, options?: { readonly wakeable?: boolean }): Promise<void>;
}

/**
 * The wake-up of a worker loop that sleeps between rounds: a LISTEN notification or a finished
 * handler calls `wake()`, the loop `await wait(ms)`s. Built on {@link wakeableSleep}.
 *
 * @example
 * const wakeup = createWakeup(signal);
 * client.on('notification', wakeup.wake);
 * while (!signal.aborted) { if (await work() === 0) await wakeup.wait(1000); }
 */
export function createWakeup(signal: AbortSignal): Wakeup {
  let pending = false;
  let current: WakeableSleep | null = null;
  return {
    wake: () => {
      if (current?.wake() !== true) pending = true;
    },
    wait: async (ms, options = {}) => {
      const wakeable = options.wakeable ?? true;
      if (signal.aborted) return;
      if (wakeable && pending) {
        pending = false;
        return;
      }
      const pause = wakeableSleep(ms, signal);
      if (wakeable) current = pause;
      await pause.done;
      if (current === pause) current = null;
    },
  };
}
