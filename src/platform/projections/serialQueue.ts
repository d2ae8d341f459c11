/** Work that runs one piece after another in the background. */
export interface SerialQueue {
  /** Queues `work` to run after everything queued before it. Throws an earlier piece's failure. */
  push(work: () => Promise<unknown>): void;
  /** Pieces queued and not finished. */
  readonly queued: number;
  /** Resolves once everything queued has finished; throws the first failure. */
  idle(): Promise<void>;
}

/**
 * A queue of async work run strictly in order while the caller goes on (a rebuild reads and folds the
 * next pages while earlier rows are written). After a failure the remaining pieces are skipped and the
 * failure is thrown to the caller by its next `push` or `idle`.
 */
export function serialQueue(): SerialQueue {
  let chain: Promise<void> = Promise.resolve();
  let failure: { error: unknown } | undefined;
  let queued = 0;
  const rethrow = () => {
    if (failure !== undefined) throw failure.error;
  };
  return {
    push(work) {
      rethrow();
      queued++;
      chain = chain
        .then(async () => {
          if (failure === undefined) await work();
        })
        .catch((error: unknown) => {
          failure ??= { error };
        })
        .finally(() => {
          queued--;
        });
    },
    get queued() {
      return queued;
    },
    async idle() {
      await chain;
      rethrow();
    },
  };
}
