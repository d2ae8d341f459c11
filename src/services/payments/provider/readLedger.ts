import type pg from 'pg';
import type { LedgerEntry } from './resources.ts';

/** Filters of {@link readLedger}; absent ones match everything. */
export interface LedgerFilter {
  readonly reference?: string;
  readonly chargeId?: string;
}

/** The ledger's entries in the order they were written. */
export async function readLedger(pool: pg.Pool, filter: LedgerFilter = {}): Promise<LedgerEntry[]> {
  const { rows } = await pool.query<{ id: string; movement: LedgerEntry['movement']; object_id: string; charge_id: string | null; reference: string | null; amount: string; currency: string; idempotency_key: string; created_at: Date }>(
    `select * from payment_provider.ledger_entries
      where ($1::text is null or reference = $1) and ($2::uuid is null or charge_id = $2)
      order by id`,
    [filter.reference ?? null, filter.chargeId ?? null],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    movement: r.movement,
    objectId: r.object_id,
    chargeId: r.charge_id,
    reference: r.reference,
    amount: Number(r.amount),
    currency: r.currency,
    idempotencyKey: r.idempotency_key,
    createdAt: r.created_at.toISOString(),
  }));
}
