import type pg from 'pg';
import { deleteOldestInBatches, oldestUnreferencedSql, type BatchedDeleteOptions } from '../deleteOldestInBatches.ts';

/** Options for {@link pruneBus}. */
export interface PruneBusOptions extends BatchedDeleteOptions {
  /**
   * Keep messages younger than this many ms: the dedupe window, during which a re-published id must
   * still find its row to be dropped as a duplicate. Default 120 000 (2 minutes, like JetStream's
   * duplicate window).
   */
  readonly olderThanMs?: number;
  /** Messages deleted per statement. Default 1000. */
  readonly batchSize?: number;
}

/**
 * One batch of {@link pruneBus} (exported for its plan's test): `$1` the dedupe window in ms, `$2` the
 * cursor (published_at), `$3` the batch size. The oldest messages past the window that no delivery
 * points at (every subscription acked or dead-lettered them; a dead letter keeps its own copy), walked
 * in `messages_published_at_idx` order, probing the deliveries index per message. A redelivery
 * (dead-letter redrive) moves `published_at` to now, which the statement rechecks on the locked row.
 */
export function pruneBusSql(): string {
  return oldestUnreferencedSql({ table: 'brigade_bus.messages', key: 'id', age: 'published_at', keptBy: { table: 'brigade_bus.deliveries', column: 'message_id' } });
}

const PRUNE_BUS_SQL = pruneBusSql();

/**
 * Deletes bus messages every subscription has settled (no delivery left) once they are older than the
 * dedupe window, oldest first, in batches of `batchSize` while a batch comes back full (stopping
 * between batches when `signal` aborts). Safe to run from several processes at once. Returns how many
 * went. The platform runs it periodically (`runBusRetention`, decision 0068).
 *
 * @example
 * const pruned = await pruneBus(pool, { signal, onBatch: (n) => log(`pruned ${n} bus messages`) });
 */
export async function pruneBus(pool: pg.Pool, options: PruneBusOptions = {}): Promise<number> {
  return deleteOldestInBatches(pool, PRUNE_BUS_SQL, options.olderThanMs ?? 120_000, options.batchSize ?? 1000, options);
}
