import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { CardDeclinedError } from './providerErrors.ts';
import { chargeOf, type Charge, type ChargeRow } from './resources.ts';

/** A charge request: authorize `amount` on `card`; capture it later. */
export interface ChargeRequest {
  /** Minor units. */
  readonly amount: number;
  /** ISO 4217, upper case. */
  readonly currency: string;
  /** Card number (12 to 19 digits); only its last four digits are stored. */
  readonly card: string;
  /** The caller's reference (e.g. the order id); the ledger can be filtered by it. */
  readonly reference: string;
}

/**
 * Authorizes a charge and writes its ledger entry, or records a declined charge (no ledger entry)
 * and throws {@link CardDeclinedError} when `card` is the configured declined card.
 */
export async function authorizeCharge(client: pg.PoolClient, request: ChargeRequest, idempotencyKey: string, declineCard: string | null): Promise<Charge> {
  const last4 = request.card.slice(-4);
  if (declineCard !== null && request.card === declineCard) throw new CardDeclinedError(last4);
  const id = randomUUID();
  const { rows } = await client.query<ChargeRow>(
    `insert into payment_provider.charges (id, reference, card_last4, amount, currency, status)
     values ($1, $2, $3, $4, $5, 'authorized') returning *`,
    [id, request.reference, last4, request.amount, request.currency],
  );
  await client.query(
    `insert into payment_provider.ledger_entries (movement, object_id, charge_id, reference, amount, currency, idempotency_key)
     values ('authorization', $1, $1, $2, $3, $4, $5)`,
    [id, request.reference, request.amount, request.currency, idempotencyKey],
  );
  return chargeOf(rows[0] as ChargeRow);
}
