import type { Tx } from '../../db/index.ts';
import { runRetentionPasses } from '../../runtime/runRetentionPasses.ts';
import { pruneInbox } from './pruneInbox.ts';

/** Options of {@link runInboxRetention}. */
export interface InboxRetentionOptions {
  /** The consuming service's schema, holding `inbox`. */
  readonly schema: string;
  /** Runs `fn` in one transaction of the consuming service (its role: the inbox's delete policy is for it). */
  readonly transaction: <T>(fn: (tx: Tx) => Promise<T>) => Promise<T>;
  /** Claims are kept this long after they were handled (`INBOX_RETENTION_MS`); at least a day whatever is asked. */
  readonly olderThanMs: number;
  /** Pause between passes. Default 10 minutes. */
  readonly intervalMs?: number;
  /** Claims per delete statement. Default 1000. */
  readonly batchSize?: number;
  /** Each batch deleted, and each failed pass (retried after `intervalMs`; nothing is thrown). */
  readonly onProgress?: (event: { readonly kind: 'batch'; readonly deleted: number } | { readonly kind: 'error'; readonly error: unknown }) => void;
  readonly signal: AbortSignal;
}

/**
 * The inbox retention loop (decision 0092, {@link runRetentionPasses}): every `intervalMs`,
 * {@link pruneInbox} in batches, each its own short transaction, while a batch comes back full. Without
 * it a consuming service's inbox keeps one row per message it ever handled. A failure is reported
 * through `onProgress` and retried at the next pass, never thrown. Several processes may run it at
 * once. Resolves when `signal` aborts.
 *
 * @example
 * await runInboxRetention({ schema: 'delivery', transaction: (fn) => unitOfWork(ctx, fn), olderThanMs: config.inboxRetentionMs, signal });
 */
export async function runInboxRetention(options: InboxRetentionOptions): Promise<void> {
  const report = options.onProgress ?? (() => undefined);
  await runRetentionPasses({
    pruneBatch: (batchSize) => options.transaction((tx) => pruneInbox(tx, { schema: options.schema, olderThanMs: options.olderThanMs, batchSize })),
    batchSize: options.batchSize ?? 1000,
    intervalMs: options.intervalMs ?? 600_000,
    onBatch: (deleted) => report({ kind: 'batch', deleted }),
    onError: (error) => report({ kind: 'error', error }),
    signal: options.signal,
  });
}
