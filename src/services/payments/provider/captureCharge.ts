import type pg from 'pg';
import { NotFoundError, UnprocessableError } from '../../../platform/errors/index.ts';
import { chargeOf, type Charge, type ChargeRow } from './resources.ts';

/** Captures an authorized charge in full and writes the capture's ledger entry. */
export async function captureCharge(client: pg.PoolClient, chargeId: string, idempotencyKey: string): Promise<Charge> {
  // Lock the charge: two captures with different keys must not both move the money.
  const { rows } = await client.query<ChargeRow>(`select * from payment_provider.charges where id = $1 for update`, [chargeId]);
  const charge = rows[0];
  if (charge === undefined) throw new NotFoundError('Charge', chargeId);
  if (charge.status !== 'authorized') {
    throw new UnprocessableError('CHARGE_NOT_CAPTURABLE', `Charge ${chargeId} is ${charge.status}; only an authorized charge can be captured`, { chargeStatus: charge.status });
  }
  const updated = await client.query<ChargeRow>(`update payment_provider.charges set status = 'captured', updated_at = now() where id = $1 returning *`, [chargeId]);
  await client.query(
    `insert into payment_provider.ledger_entries (movement, object_id, charge_id, reference, amount, currency, idempotency_key)
     values ('capture', $1, $1, $2, $3, $4, $5)`,
    [chargeId, charge.reference, charge.amount, charge.currency, idempotencyKey],
  );
  return chargeOf(updated.rows[0] as ChargeRow);
}
