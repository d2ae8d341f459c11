import type { Tx } from '../../../platform/db/index.ts';
import type { PaymentMethod } from './setPaymentMethod.ts';

/** The card on file of the customer the transaction acts as (last four digits only), or `null`. */
export async function getPaymentMethod(tx: Tx, customerId: string): Promise<PaymentMethod | null> {
  const { rows } = await tx.query<PaymentMethod>(
    `select card_last4 as "cardLast4", updated_at as "updatedAt" from platform.customer_payment_methods where customer_id = $1`,
    [customerId],
  );
  const row = rows[0];
  return row === undefined ? null : { cardLast4: row.cardLast4, updatedAt: new Date(row.updatedAt).toISOString() };
}
