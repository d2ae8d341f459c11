import type pg from 'pg';
import { deleteOldestInBatches, oldestByAddressSql, oldestUnreferencedSql, type BatchedDeleteOptions } from '../deleteOldestInBatches.ts';

/** How long a payload nobody needs any more is kept by default (see {@link PurgeClaimChecksOptions.graceMs}): one hour. */
export const CLAIM_CHECK_GRACE_MS = 3_600_000;

/** Options for {@link purgeClaimChecks}. */
export interface PurgeClaimChecksOptions extends BatchedDeleteOptions {
  /**
   * Keep payloads stored, stored again, or released by a handler less than this many ms ago, and
   * released references as long after their release. Default one hour: a handler that succeeded but
   * whose ack was lost is redelivered and must still find the payload (the grace counted from the
   * store alone let a payload stored long before, by a backlog or a redrive, go the moment its last
   * reference did); and a released reference must outlive the broker's dedupe window
   * (`MESSAGE_DEDUPE_WINDOW_MS`, 2 minutes by default), so that a republish of its message meets it
   * rather than writing a reference nobody would release.
   */
  readonly graceMs?: number;
  /** Payloads (and released references) deleted per statement (each payload over 64 KiB by default). Default 100. */
  readonly batchSize?: number;
}

/**
 * One batch of {@link purgeClaimChecks} (exported for its plan's test): `$1` the grace in ms, `$2` the
 * cursor (created_at), `$3` the batch size. The oldest payloads past the grace that no unreleased
 * reference points at, walked in `claim_checks_created_at_idx` order, probing the references per
 * payload. A publish that stores the same payload again moves `created_at` to now, which the statement
 * rechecks on the locked row. Its released references go with it (`on delete cascade`).
 */
export function purgeClaimChecksSql(): string {
  return oldestUnreferencedSql({
    table: 'brigade_bus.claim_checks',
    key: 'sha256',
    age: 'created_at',
    keptBy: { table: 'brigade_bus.claim_check_refs', column: 'sha256', where: 'r.released_at is null' },
  });
}

/**
 * One batch of the released references' purge (exported for its plan's test): `$1` the grace in ms,
 * `$2` the cursor (released_at), `$3` the batch size. The oldest references released longer than the
 * grace ago, walked in `claim_check_refs_released_at_idx` order ({@link oldestByAddressSql}). A payload
 * published again and again under new message ids (the same content) is never old enough to go, and
 * its released references would pile up without this. A redrive that holds a reference again
 * (`released_at` back to null) is seen on the locked row.
 */
export function purgeReleasedRefsSql(): string {
  return oldestByAddressSql('brigade_bus.claim_check_refs', 'released_at');
}

const PURGE_CLAIM_CHECKS_SQL = purgeClaimChecksSql();
const PURGE_RELEASED_REFS_SQL = purgeReleasedRefsSql();

/**
 * Deletes stored payloads that no subscription still has to ack once they are older than `graceMs`,
 * oldest first, in batches while a batch comes back full (stopping between batches when `signal`
 * aborts); then the references released longer than `graceMs` ago. Safe to run from several processes
 * at once. Returns how many payloads went (`onBatch` reports the payloads' batches only). The platform
 * runs it periodically (`runBusRetention`, decision 0068).
 */
export async function purgeClaimChecks(pool: pg.Pool, options: PurgeClaimChecksOptions = {}): Promise<number> {
  const graceMs = options.graceMs ?? CLAIM_CHECK_GRACE_MS;
  const batchSize = options.batchSize ?? 100;
  const payloads = await deleteOldestInBatches(pool, PURGE_CLAIM_CHECKS_SQL, graceMs, batchSize, options);
  await deleteOldestInBatches(pool, PURGE_RELEASED_REFS_SQL, graceMs, batchSize, { ...(options.signal === undefined ? {} : { signal: options.signal }) });
  return payloads;
}
