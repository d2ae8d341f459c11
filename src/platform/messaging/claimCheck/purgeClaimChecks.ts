import type pg from 'pg';
import { deleteOldestInBatches, oldestUnreferencedSql, type BatchedDeleteOptions } from '../deleteOldestInBatches.ts';

/** How long a payload nobody needs any more is kept by default (see {@link PurgeClaimChecksOptions.graceMs}): one hour. */
export const CLAIM_CHECK_GRACE_MS = 3_600_000;

/** Options for {@link purgeClaimChecks}. */
export interface PurgeClaimChecksOptions extends BatchedDeleteOptions {
  /**
   * Keep payloads stored, stored again, or released by a handler less than this many ms ago. Default
   * one hour: a handler that succeeded but whose ack was lost is redelivered and must still find the
   * payload (the grace counted from the store alone let a payload stored long before, by a backlog or
   * a redrive, go the moment its last reference did).
   */
  readonly graceMs?: number;
  /** Payloads deleted per statement (each over 64 KiB by default). Default 100. */
  readonly batchSize?: number;
}

/**
 * One batch of {@link purgeClaimChecks} (exported for its plan's test): `$1` the grace in ms, `$2` the
 * cursor (created_at), `$3` the batch size. The oldest payloads past the grace that no reference
 * points at, walked in `claim_checks_created_at_idx` order, probing the references per payload. A
 * publish that stores the same payload again moves `created_at` to now, which the statement rechecks
 * on the locked row.
 */
export function purgeClaimChecksSql(): string {
  return oldestUnreferencedSql({ table: 'brigade_bus.claim_checks', key: 'sha256', age: 'created_at', keptBy: { table: 'brigade_bus.claim_check_refs', column: 'sha256' } });
}

const PURGE_CLAIM_CHECKS_SQL = purgeClaimChecksSql();

/**
 * Deletes stored payloads that no subscription still has to ack once they are older than `graceMs`,
 * oldest first, in batches while a batch comes back full (stopping between batches when `signal`
 * aborts). Safe to run from several processes at once. Returns how many payloads went. The platform
 * runs it periodically (`runBusRetention`, decision 0068).
 */
export async function purgeClaimChecks(pool: pg.Pool, options: PurgeClaimChecksOptions = {}): Promise<number> {
  return deleteOldestInBatches(pool, PURGE_CLAIM_CHECKS_SQL, options.graceMs ?? CLAIM_CHECK_GRACE_MS, options.batchSize ?? 100, options);
}
