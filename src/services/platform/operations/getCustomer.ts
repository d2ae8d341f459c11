import type { Tx } from '../../../platform/db/index.ts';
import type { Customer } from './signUpCustomer.ts';

/** The customer the transaction's actor is (RLS shows customers only themselves). */
export async function getCustomer(tx: Tx, id: string): Promise<Customer | null> {
  const row = await tx.query<Customer>(`select id, name, email, address, created_at as "createdAt" from platform.customers where id = $1`, [id]);
  return row.rows[0] ?? null;
}
