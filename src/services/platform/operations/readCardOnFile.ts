import type { Tx } from '../../../platform/db/index.ts';

/**
 * The card number on file of a customer, or `null`. Only the payments saga calls this (through its
 * port, as actor kind `system`, which the table's RLS lets read), when it charges an order: the number
 * is read at charge time and never copied anywhere else.
 */
export async function readCardOnFile(tx: Tx, customerId: string): Promise<string | null> {
  const { rows } = await tx.query<{ card_number: string }>(`select card_number from platform.customer_payment_methods where customer_id = $1`, [customerId]);
  return rows[0]?.card_number ?? null;
}
