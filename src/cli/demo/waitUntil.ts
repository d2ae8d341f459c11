import { setTimeout as sleep } from 'node:timers/promises';

/** What {@link waitUntil} waits within, and what it says when the wait is long. */
export interface WaitUntilOptions<T> {
  /** `Date.now()` past which it gives up (throws `gave up waiting for <what>`). */
  readonly deadline: number;
  /**
   * Called once, with the answer, when one that is not done comes `afterMs` or more after the wait
   * began (never with the answer that ends it): the demo's "has waited 10 s for its payment" line.
   */
  readonly slow?: { readonly afterMs: number; readonly onSlow: (value: T) => void };
}

/**
 * Calls `read` until `done` holds, as a client without a push channel would: first after 50 ms,
 * then each wait half as long again, up to 500 ms. Past the deadline it throws. Returns the answer that was done.
 *
 * @example
 * const payment = await waitUntil('the payment', readPayment, (p) => p.payment !== 'authorizing', { deadline: Date.now() + 120_000 });
 */
export async function waitUntil<T>(what: string, read: () => Promise<T>, done: (value: T) => boolean, options: WaitUntilOptions<T>): Promise<T> {
  const began = performance.now();
  let slow = options.slow;
  for (let pause = 50; ; pause = Math.min(500, pause * 1.5)) {
    const value = await read();
    if (done(value)) return value;
    // Only an answer that is still not done: checked before `done`, the answer that ended a long wait
    // was called slow ("has waited 10 s for its payment (authorized)").
    if (slow !== undefined && performance.now() - began >= slow.afterMs) {
      slow.onSlow(value);
      slow = undefined;
    }
    if (Date.now() > options.deadline) throw new Error(`gave up waiting for ${what}`);
    await sleep(pause);
  }
}
