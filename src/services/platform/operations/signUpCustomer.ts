import type { Tx } from '../../../platform/db/index.ts';
import { mapPlatformError } from './errors.ts';

/** A customer's own record. Personal data: erased by a real DELETE, never soft-deleted. */
export interface Customer {
  id: string;
  name: string;
  email: string;
  address: string;
  createdAt: string;
}

/**
 * Inserts a new customer. The transaction must act as that customer (actor = the new id), which is
 * what the customers' WITH CHECK policy demands: nobody signs up someone else.
 */
export async function signUpCustomer(tx: Tx, input: { id: string; name: string; email: string; address: string }): Promise<Customer> {
  try {
    const row = await tx.query<Customer>(
      `insert into platform.customers (id, name, email, address) values ($1, $2, lower($3), $4)
       returning id, name, email, address, created_at as "createdAt"`,
      [input.id, input.name, input.email, input.address],
    );
    return row.rows[0] as Customer;
  } catch (error) {
    mapPlatformError(error, { unique: ['A customer with this e-mail', 'email'] });
  }
}
