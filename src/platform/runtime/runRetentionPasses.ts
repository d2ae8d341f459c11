import { sleep } from './sleep.ts';

/** Options of {@link runRetentionPasses}. */
export interface RetentionPassesOptions {
  /** Deletes at most `batchSize` rows in one short transaction of its own; answers how many it deleted. */
  readonly pruneBatch: (batchSize: number) => Promise<number>;
  /** Rows per batch: a batch that comes back full is followed by another at once. */
  readonly batchSize: number;
  /** Pause after each pass, whether it succeeded or failed. */
  readonly intervalMs: number;
  /** Each batch that deleted something (`countRetentionDeletes` counts them in /metrics). */
  readonly onBatch?: (deleted: number) => void;
  /** A failed pass (retried after `intervalMs`; nothing is thrown). Not called for a failure after the abort. */
  readonly onError: (error: unknown) => void;
  readonly signal: AbortSignal;
}

/**
 * A retention loop: every `intervalMs`, `pruneBatch` while a batch comes back full, each batch its own
 * short transaction. A failure is reported through `onError` and retried at the next pass, never
 * thrown: rows only wait longer. Resolves when `signal` aborts (after the batch in flight, or at once
 * while it waits). The inbox retention and the sign-in attempts' retention are this loop.
 *
 * @example
 * await runRetentionPasses({ pruneBatch: (n) => unitOfWork(ctx, (tx) => pruneInbox(tx, { …, batchSize: n })), batchSize: 1000, intervalMs: 600_000, onError: warn, signal });
 */
export async function runRetentionPasses(options: RetentionPassesOptions): Promise<void> {
  const { signal, batchSize } = options;
  while (!signal.aborted) {
    try {
      let deleted = batchSize;
      while (deleted === batchSize && !signal.aborted) {
        deleted = await options.pruneBatch(batchSize);
        if (deleted > 0) options.onBatch?.(deleted);
      }
    } catch (error) {
      if (!signal.aborted) options.onError(error);
    }
    await sleep(options.intervalMs, signal);
  }
}
