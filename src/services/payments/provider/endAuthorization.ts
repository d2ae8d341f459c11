import type pg from 'pg';
import { NotFoundError, UnprocessableError } from '../../../platform/errors/index.ts';
import { chargeOf, type Charge, type ChargeRow } from './resources.ts';

/** How an authorization ends: captured (the money taken) or voided (released). */
export interface AuthorizationEnd {
  readonly status: 'captured' | 'voided';
  readonly movement: 'capture' | 'void';
  /** The 422's code and what the message adds, for a charge that is not `authorized`. */
  readonly refusal: { readonly code: string; readonly advice: string };
}

/**
 * Ends an authorized charge as `end` says, with its ledger entry of the whole amount; a charge that is
 * not `authorized` is refused with 422 `end.refusal.code`, its status in `details.chargeStatus`. The
 * charge row is locked first, so a capture and a void under different keys cannot both go through.
 */
export async function endAuthorization(client: pg.PoolClient, chargeId: string, idempotencyKey: string, end: AuthorizationEnd): Promise<Charge> {
  const { rows } = await client.query<ChargeRow>(`select * from payment_provider.charges where id = $1 for update`, [chargeId]);
  const charge = rows[0];
  if (charge === undefined) throw new NotFoundError('Charge', chargeId);
  if (charge.status !== 'authorized') {
    throw new UnprocessableError(end.refusal.code, `Charge ${chargeId} is ${charge.status}; ${end.refusal.advice}`, { chargeStatus: charge.status });
  }
  const updated = await client.query<ChargeRow>(`update payment_provider.charges set status = $2, updated_at = now() where id = $1 returning *`, [chargeId, end.status]);
  await client.query(
    `insert into payment_provider.ledger_entries (movement, object_id, charge_id, reference, amount, currency, idempotency_key)
     values ($6, $1, $1, $2, $3, $4, $5)`,
    [chargeId, charge.reference, charge.amount, charge.currency, idempotencyKey, end.movement],
  );
  return chargeOf(updated.rows[0] as ChargeRow);
}
