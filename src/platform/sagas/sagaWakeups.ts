/**
 * Process-local wake-ups of idle saga runners (decision 0073). A transaction that leaves a saga with a
 * step due now announces it once it has committed (`startSaga`, `transitionSaga`); one runner of the
 * saga store's schema that waits in this process is woken, instead of finding the step at its next
 * poll. An announcement with no runner waiting is kept (up to {@link MAX_KEPT}) for the next runner
 * that goes idle, so a step committed between a runner's empty claim and its wait is not left for the
 * poll. Runners in other processes still find the step at their poll.
 */

/** Announcements kept per schema while every runner is busy: each costs at most one empty claim. */
const MAX_KEPT = 64;

interface Waiting {
  readonly queue: Array<() => void>;
  kept: number;
}

const bySchema = new Map<string, Waiting>();

const waitingIn = (schema: string): Waiting => {
  let waiting = bySchema.get(schema);
  if (waiting === undefined) bySchema.set(schema, (waiting = { queue: [], kept: 0 }));
  return waiting;
};

/** Wakes one idle runner of the saga store in `schema`, or keeps the announcement for the next one. */
export function announceSagaWork(schema: string): void {
  const waiting = waitingIn(schema);
  const next = waiting.queue.shift();
  if (next !== undefined) next();
  else waiting.kept = Math.min(MAX_KEPT, waiting.kept + 1);
}

/**
 * An idle runner's wait: resolves after `ms`, when `signal` aborts, or when a step is announced in
 * `schema` (at once if an announcement is kept).
 */
export function waitForSagaWork(schema: string, ms: number, signal: AbortSignal): Promise<void> {
  const waiting = waitingIn(schema);
  if (waiting.kept > 0 || signal.aborted) {
    if (!signal.aborted) waiting.kept--;
    return Promise.resolve();
  }
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      const at = waiting.queue.indexOf(done);
      if (at >= 0) waiting.queue.splice(at, 1);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    waiting.queue.push(done);
  });
}
