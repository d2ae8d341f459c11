import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { NotFoundError, UnprocessableError } from '../../../platform/errors/index.ts';
import type { ChargeRow, Refund } from './resources.ts';

/** A refund request. */
export interface RefundRequest {
  readonly chargeId: string;
  /** Minor units; at most what is left of the captured amount. */
  readonly amount: number;
}

/** Refunds part or all of a captured charge and writes the refund's ledger entry. */
export async function refundCharge(client: pg.PoolClient, request: RefundRequest, idempotencyKey: string): Promise<Refund> {
  const { rows } = await client.query<ChargeRow>(`select * from payment_provider.charges where id = $1 for update`, [request.chargeId]);
  const charge = rows[0];
  if (charge === undefined) throw new NotFoundError('Charge', request.chargeId);
  if (charge.status !== 'captured') {
    throw new UnprocessableError('CHARGE_NOT_REFUNDABLE', `Charge ${request.chargeId} is ${charge.status}; only a captured charge can be refunded`, { chargeStatus: charge.status });
  }
  const left = Number(charge.amount) - Number(charge.refunded_amount);
  if (request.amount > left) {
    throw new UnprocessableError('REFUND_EXCEEDS_CHARGE', `Only ${left} of charge ${request.chargeId} is left to refund`, { left });
  }
  const id = randomUUID();
  await client.query(`update payment_provider.charges set refunded_amount = refunded_amount + $2, updated_at = now() where id = $1`, [request.chargeId, request.amount]);
  await client.query(`insert into payment_provider.refunds (id, charge_id, amount, currency) values ($1, $2, $3, $4)`, [id, request.chargeId, request.amount, charge.currency]);
  await client.query(
    `insert into payment_provider.ledger_entries (movement, object_id, charge_id, reference, amount, currency, idempotency_key)
     values ('refund', $1, $2, $3, $4, $5, $6)`,
    [id, request.chargeId, charge.reference, request.amount, charge.currency, idempotencyKey],
  );
  return { id, chargeId: request.chargeId, amount: request.amount, currency: charge.currency };
}
