import type pg from 'pg';
import { purgeClaimChecks } from './claimCheck/purgeClaimChecks.ts';
import { pruneFailures } from './nats/pruneFailures.ts';
import { pruneBus } from './postgres/pruneBus.ts';
import { sleep } from '../runtime/sleep.ts';

/** What {@link runBusRetention} reports: each batch, each pass's totals, and each failure. */
export type BusRetentionEvent =
  | { readonly kind: 'batch'; readonly table: 'messages' | 'claim_checks' | 'failures'; readonly deleted: number }
  | { readonly kind: 'pass'; readonly messages: number; readonly claimChecks: number; readonly failures: number }
  | { readonly kind: 'error'; readonly error: unknown };

/** Options for {@link runBusRetention}. */
export interface BusRetentionOptions {
  /** Pool of the database with the `brigade_bus` schema (the platform's). */
  readonly pool: pg.Pool;
  /** Ends the loop: after the batch in flight, or at once while it waits for the next pass. */
  readonly signal: AbortSignal;
  /** Pause after each pass, whether it succeeded or failed. Default 60 000 ms. */
  readonly intervalMs?: number;
  /** Bus messages are kept this long after their publish (the dedupe window). Default {@link pruneBus}'s: 2 minutes. */
  readonly messagesOlderThanMs?: number;
  /** Claim-checked payloads are kept this long after their last store or release, and released references after their release. Default {@link purgeClaimChecks}'s: 1 hour. */
  readonly claimCheckGraceMs?: number;
  /**
   * The JetStream stream's `max_age` (`NATS_STREAM_MAX_AGE_MS`): the JetStream transport's failures rows
   * last written longer ago than this and an hour go ({@link pruneFailures}). Default 7 days.
   */
  readonly streamMaxAgeMs?: number;
  /** Rows per delete statement; default each operation's own (1000 messages, 100 payloads, 1000 failures rows). */
  readonly batchSize?: number;
  /** Progress and trouble. A failed pass is reported here and retried after `intervalMs`; nothing is thrown. */
  readonly onProgress?: (event: BusRetentionEvent) => void;
}

/**
 * The bus retention loop (decision 0068): every `intervalMs`, {@link pruneBus} (messages every
 * subscription settled, past the dedupe window), {@link purgeClaimChecks} (payloads no subscription
 * still needs, past their grace) and {@link pruneFailures} (JetStream failures rows no stream message
 * will settle: last written longer ago than the stream's max_age and an hour, decision 0016), each in
 * bounded batches while a batch comes back full. Without it `brigade_bus.messages`, the claim-check
 * tables and the failures rows left behind grow for ever. A failure (the
 * database restarting, say) is reported through `onProgress` and retried at the next pass, never
 * thrown: rows only wait longer. Several processes may run it at once (the batches skip each
 * other's rows). Resolves when `signal` aborts.
 *
 * @example
 * await runBusRetention({ pool, signal, onProgress: (e) => e.kind === 'error' && warn(e.error) });
 */
export async function runBusRetention(options: BusRetentionOptions): Promise<void> {
  const { pool, signal } = options;
  const report = options.onProgress ?? (() => undefined);
  const intervalMs = options.intervalMs ?? 60_000;
  while (!signal.aborted) {
    try {
      const messages = await pruneBus(pool, {
        olderThanMs: options.messagesOlderThanMs,
        batchSize: options.batchSize,
        signal,
        onBatch: (deleted) => report({ kind: 'batch', table: 'messages', deleted }),
      });
      const claimChecks = await purgeClaimChecks(pool, {
        graceMs: options.claimCheckGraceMs,
        batchSize: options.batchSize,
        signal,
        onBatch: (deleted) => report({ kind: 'batch', table: 'claim_checks', deleted }),
      });
      const failures = await pruneFailures(pool, {
        streamMaxAgeMs: options.streamMaxAgeMs,
        batchSize: options.batchSize,
        signal,
        onBatch: (deleted) => report({ kind: 'batch', table: 'failures', deleted }),
      });
      report({ kind: 'pass', messages, claimChecks, failures });
    } catch (error) {
      report({ kind: 'error', error });
    }
    // Ends at once on an abort, also one that came while the pass ran.
    await sleep(intervalMs, signal);
  }
}
