import type { Transport } from '../messaging/index.ts';
import type { OutboxRow } from './claimOutboxBatch.ts';

/** What {@link publishInOrder} got the broker to accept. */
export interface PublishOutcome {
  /** Rows the broker acked: safe to mark. */
  readonly published: readonly OutboxRow[];
  /** The failure that stopped publishing, or `null` when every row went out. */
  readonly error: unknown;
  /** The wave whose `publish` call failed (in claim order), or `[]` when every row went out. */
  readonly failed: readonly OutboxRow[];
}

/**
 * Publishes claimed rows keeping each aggregate's order. The rows are cut into waves: wave k holds the
 * k-th row of every aggregate key in the batch, so one wave has at most one row per key and may go out
 * as one `transport.publish` call (one statement on the PostgreSQL transport, pipelined PubAcks on
 * JetStream). Waves go out one after another; a failed wave stops the batch there, so no aggregate ever
 * has a later message accepted while an earlier one is not. (Rows of a failed wave that the broker did
 * take are published again next time and dropped by its dedupe on the message id.) In the common case,
 * one message per aggregate per batch, the batch is a single wave and a single call.
 */
export async function publishInOrder(transport: Transport, rows: readonly OutboxRow[]): Promise<PublishOutcome> {
  const waves: OutboxRow[][] = [];
  const seen = new Map<string, number>();
  for (const row of rows) {
    const k = seen.get(row.message.key) ?? 0;
    seen.set(row.message.key, k + 1);
    (waves[k] ??= []).push(row);
  }
  const published: OutboxRow[] = [];
  for (const wave of waves) {
    try {
      await transport.publish(wave.map((row) => row.message));
    } catch (error) {
      return { published, error: error ?? new Error('publish failed'), failed: wave };
    }
    published.push(...wave);
  }
  return { published, error: null, failed: [] };
}
