import type pg from 'pg';
import { deleteOldestInBatches, type BatchedDeleteOptions } from '../deleteOldestInBatches.ts';

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
 * cursor (published_at), `$3` the batch size.
 *
 * - The oldest messages past the window that no delivery points at (every subscription acked or
 *   dead-lettered them; a dead letter keeps its own copy), walked in `messages_published_at_idx` order
 *   from the cursor. The "no delivery" test is kept a per-row probe of the deliveries index
 *   (`offset 0` stops its conversion to a join): as an anti-join the planner hashed a scan of every
 *   delivery while the tables were small or unanalysed.
 * - `for update skip locked`: two prunes at once skip each other's rows. A redelivery (dead-letter
 *   redrive) of a message being pruned either waits for the prune and writes the message again, or,
 *   having written first, moved `published_at` to now, which this statement rechecks on the locked row.
 * - The delete finds the chosen rows by primary key (`= any (array(…))`, never a join the planner
 *   could turn into a scan).
 */
export function pruneBusSql(): string {
  return `with gone as (
  delete from brigade_bus.messages m
  where m.id = any (array(
    select c.id from brigade_bus.messages c
    where c.published_at < now() - make_interval(secs => $1::double precision / 1000)
      and c.published_at >= $2::timestamptz
      and not exists (select from brigade_bus.deliveries d where d.message_id = c.id offset 0)
    order by c.published_at
    limit $3
    for update of c skip locked))
  returning m.published_at
)
select count(*)::int as deleted, max(published_at)::text as last from gone`;
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
