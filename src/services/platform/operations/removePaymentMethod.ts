import type { Tx } from '../../../platform/db/index.ts';

/** Removes the card on file of the customer the transaction acts as; `false` when there was none. */
export async function removePaymentMethod(tx: Tx, customerId: string): Promise<boolean> {
  const { rowCount } = await tx.query(`delete from platform.customer_payment_methods where customer_id = $1`, [customerId]);
  return (rowCount ?? 0) > 0;
}
