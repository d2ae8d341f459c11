import type { Tx } from '../../../platform/db/index.ts';
import { IDEMPOTENCY_KEY_TTL_HOURS } from './findIdempotencyKey.ts';

/**
 * Deletes keys older than the TTL (default 24 h); returns how many. Run as `system` or `admin` (the
 * ordering service's `idempotency-keys-pruner` worker runs it hourly).
 */
export async function pruneIdempotencyKeys(tx: Tx, olderThanHours: number = IDEMPOTENCY_KEY_TTL_HOURS): Promise<number> {
  const { rowCount } = await tx.query(`delete from ordering.idempotency_keys where created_at <= now() - make_interval(hours => $1)`, [olderThanHours]);
  return rowCount ?? 0;
}
