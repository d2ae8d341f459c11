import type { Tx } from '../../../platform/db/index.ts';
import { SIGN_IN_LIMIT } from './reserveSignInAttempt.ts';

/**
 * Deletes up to `batchSize` sign-in attempts older than the limiter's window ({@link SIGN_IN_LIMIT}),
 * oldest first: they count for nothing any more. Rows another transaction is deleting are skipped, so
 * passes of several processes never wait on each other. Runs as `SIGN_IN_ACTOR`, the only actor that
 * sees attempts; the worker `platform/sign-in-attempts-retention` calls it on a timer.
 *
 * @returns how many were deleted: `batchSize` means there may be more.
 */
export async function pruneSignInAttempts(tx: Tx, batchSize: number): Promise<number> {
  // Served by customer_sign_in_attempts_by_age (at): the oldest rows first, however large the table.
  const { rowCount } = await tx.query(
    `delete from platform.customer_sign_in_attempts where id in (
       select id from platform.customer_sign_in_attempts where at <= now() - make_interval(secs => $1)
        order by at limit $2 for update skip locked)`,
    [SIGN_IN_LIMIT.windowSeconds, batchSize],
  );
  return rowCount ?? 0;
}
