import type pg from 'pg';
import { deleteOldestInBatches, oldestByAddressSql, type BatchedDeleteOptions } from '../deleteOldestInBatches.ts';

/** The JetStream stream's default `max_age` (createNatsTransport's `maxAgeMs`, `NATS_STREAM_MAX_AGE_MS`): 7 days. */
const DEFAULT_STREAM_MAX_AGE_MS = 7 * 24 * 3600_000;

/**
 * What a failures row is kept past the stream's `max_age`: the clocks of the broker's and the database's
 * hosts need not agree, and a delivery taken just before its stream message expired may still be in a
 * handler (which writes the row again if it fails).
 */
export const FAILURES_MARGIN_MS = 3_600_000;

/** Options for {@link pruneFailures}. */
export interface PruneFailuresOptions extends BatchedDeleteOptions {
  /**
   * The JetStream stream's `max_age` (`NATS_STREAM_MAX_AGE_MS`). Rows last written longer ago than this
   * plus {@link FAILURES_MARGIN_MS} go. Default 7 days, the stream's default.
   */
  readonly streamMaxAgeMs?: number;
  /** Rows deleted per statement. Default 1000. */
  readonly batchSize?: number;
}

/**
 * One batch of {@link pruneFailures} (exported for its plan's test): `$1` the age in ms, `$2` the cursor
 * (last_failed_at), `$3` the batch size; the rows last written longer ago than the age, walked in
 * `failures_last_failed_at_idx` order ({@link oldestByAddressSql}). A failed attempt that writes a row
 * again while it is being deleted either waits and inserts it anew, or, having written first, is seen
 * on the locked row (its `last_failed_at` is now) and the row stays.
 */
export function pruneFailuresSql(): string {
  return oldestByAddressSql('brigade_bus.failures', 'last_failed_at');
}

const PRUNE_FAILURES_SQL = pruneFailuresSql();

/**
 * Deletes the JetStream transport's `brigade_bus.failures` rows that nothing will settle any more
 * (decision 0016, "Fixed later: failures rows left behind are pruned"): those last written longer ago
 * than the stream's `max_age` plus {@link FAILURES_MARGIN_MS}, oldest first, in batches while a batch
 * comes back full (stopping between batches when `signal` aborts). Returns how many went.
 *
 * Why that age: a row is written at each failed attempt of a stream message, after the message was
 * published, and JetStream drops every message `max_age` after its publish. So once the row's last write
 * is `max_age` old, every stream message that wrote it is gone: none can fail again into it, be handled
 * (and delete it) or be parked (and read its first failure and last error). A message whose retries
 * still run writes the row at each failure, which keeps it young, however old its first failure is (a
 * message published again under the same id shares the row). A message that has not failed yet needs no
 * row: its first failure writes one. Rows are left behind when the delete after a successful retry
 * failed, when a subscription's consumer was removed while a message of it waited for its retry, and
 * when the stream's `max_age` dropped such a message; a parked message takes its row with it (in the
 * statement that stores the letter). The platform runs it periodically (`runBusRetention`, decision 0068).
 *
 * @example
 * const pruned = await pruneFailures(pool, { streamMaxAgeMs: config.natsStreamMaxAgeMs, signal });
 */
export async function pruneFailures(pool: pg.Pool, options: PruneFailuresOptions = {}): Promise<number> {
  const olderThanMs = (options.streamMaxAgeMs ?? DEFAULT_STREAM_MAX_AGE_MS) + FAILURES_MARGIN_MS;
  return deleteOldestInBatches(pool, PRUNE_FAILURES_SQL, olderThanMs, options.batchSize ?? 1000, options);
}
