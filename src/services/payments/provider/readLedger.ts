import type pg from 'pg';
import type { LedgerEntry } from './resources.ts';

/** Filters of {@link readLedger}; absent ones match everything. */
export interface LedgerFilter {
  readonly reference?: string;
  readonly chargeId?: string;
  /** The Idempotency-Key the movement was made under: a lookup of one key reads its entries only (indexed). */
  readonly idempotencyKey?: string;
  readonly movement?: LedgerEntry['movement'];
}

/** The ledger's entries in the order they were written. */
export async function readLedger(pool: pg.Pool, filter: LedgerFilter = {}): Promise<LedgerEntry[]> {
  const { rows } = await pool.query<{ id: string; movement: LedgerEntry['movement']; object_id: string; charge_id: string | null; reference: string | null; amount: string; currency: string; idempotency_key: string; created_at: Date }>(
    `select * from payment_provider.ledger_entries
      where ($1::text is null or reference = $1) and ($2::uuid is null or charge_id = $2)
        and ($3::text is null or idempotency_key = $3) and ($4::text is null or movement = $4)
      order by id`,
    [filter.reference ?? null, filter.chargeId ?? null, filter.idempotencyKey ?? null, filter.movement ?? null],
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
