import type pg from 'pg';
import { NotFoundError, UnprocessableError } from '../../../platform/errors/index.ts';
import { chargeOf, type Charge, type ChargeRow } from './resources.ts';

/**
 * Voids an authorized charge (releases the authorization: nothing was taken, so nothing is refunded)
 * and writes the void's ledger entry, of the whole amount. A charge that is not `authorized` (captured,
 * voided, declined) is refused with 422 CHARGE_NOT_VOIDABLE, its status in `details.chargeStatus`: a
 * captured one is refunded instead.
 */
export async function voidCharge(client: pg.PoolClient, chargeId: string, idempotencyKey: string): Promise<Charge> {
  // Lock the charge: a void and a capture with different keys must not both go through.
  const { rows } = await client.query<ChargeRow>(`select * from payment_provider.charges where id = $1 for update`, [chargeId]);
  const charge = rows[0];
  if (charge === undefined) throw new NotFoundError('Charge', chargeId);
  if (charge.status !== 'authorized') {
    throw new UnprocessableError('CHARGE_NOT_VOIDABLE', `Charge ${chargeId} is ${charge.status}; only an authorized charge can be voided (refund a captured one)`, { chargeStatus: charge.status });
  }
  const updated = await client.query<ChargeRow>(`update payment_provider.charges set status = 'voided', updated_at = now() where id = $1 returning *`, [chargeId]);
  await client.query(
    `insert into payment_provider.ledger_entries (movement, object_id, charge_id, reference, amount, currency, idempotency_key)
     values ('void', $1, $1, $2, $3, $4, $5)`,
    [chargeId, charge.reference, charge.amount, charge.currency, idempotencyKey],
  );
  return chargeOf(updated.rows[0] as ChargeRow);
}
