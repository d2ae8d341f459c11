import type pg from 'pg';
import { deleteOldestInBatches, type BatchedDeleteOptions } from '../deleteOldestInBatches.ts';

/** Options for {@link purgeClaimChecks}. */
export interface PurgeClaimChecksOptions extends BatchedDeleteOptions {
  /**
   * Keep payloads stored (or stored again) less than this many ms ago. Default one hour: a handler
   * that succeeded but whose ack was lost is redelivered and must still find the payload.
   */
  readonly graceMs?: number;
  /** Payloads deleted per statement (each over 64 KiB by default). Default 100. */
  readonly batchSize?: number;
}

/**
 * One batch of {@link purgeClaimChecks} (exported for its plan's test): `$1` the grace in ms, `$2` the
 * cursor (created_at), `$3` the batch size. The oldest payloads past the grace that no reference
 * points at, walked in `claim_checks_created_at_idx` order; the reference test is a per-row probe
 * (`offset 0`), the delete a primary-key lookup, as in `pruneBusSql`. `for update skip locked`: two
 * purges skip each other's rows, and a publish storing the same payload again either waits and
 * stores it anew, or, having stored it first, moved `created_at` to now, which is rechecked here.
 */
export function purgeClaimChecksSql(): string {
  return `with gone as (
  delete from brigade_bus.claim_checks k
  where k.sha256 = any (array(
    select c.sha256 from brigade_bus.claim_checks c
    where c.created_at < now() - make_interval(secs => $1::double precision / 1000)
      and c.created_at >= $2::timestamptz
      and not exists (select from brigade_bus.claim_check_refs r where r.sha256 = c.sha256 offset 0)
    order by c.created_at
    limit $3
    for update of c skip locked))
  returning k.created_at
)
select count(*)::int as deleted, max(created_at)::text as last from gone`;
}

const PURGE_CLAIM_CHECKS_SQL = purgeClaimChecksSql();

/**
 * Deletes stored payloads that no subscription still has to ack once they are older than `graceMs`,
 * oldest first, in batches while a batch comes back full (stopping between batches when `signal`
 * aborts). Safe to run from several processes at once. Returns how many payloads went. The platform
 * runs it periodically (`runBusRetention`, decision 0068).
 */
export async function purgeClaimChecks(pool: pg.Pool, options: PurgeClaimChecksOptions = {}): Promise<number> {
  return deleteOldestInBatches(pool, PURGE_CLAIM_CHECKS_SQL, options.graceMs ?? 3_600_000, options.batchSize ?? 100, options);
}
