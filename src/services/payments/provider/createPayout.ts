import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { Payout } from './resources.ts';

/** A payout request. */
export interface PayoutRequest {
  readonly destination: string;
  readonly amount: number;
  readonly currency: string;
}

/** Pays `amount` out to `destination` and writes the payout's ledger entry. */
export async function createPayout(client: pg.PoolClient, request: PayoutRequest, idempotencyKey: string): Promise<Payout> {
  const id = randomUUID();
  await client.query(`insert into payment_provider.payouts (id, destination, amount, currency) values ($1, $2, $3, $4)`, [id, request.destination, request.amount, request.currency]);
  await client.query(
    `insert into payment_provider.ledger_entries (movement, object_id, reference, amount, currency, idempotency_key)
     values ('payout', $1, $2, $3, $4, $5)`,
    [id, request.destination, request.amount, request.currency, idempotencyKey],
  );
  return { id, ...request };
}
