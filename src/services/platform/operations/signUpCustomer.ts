import type { Tx } from '../../../platform/db/index.ts';
import { AlreadyExistsError, mapPlatformError } from './errors.ts';

/** A customer's own record. Personal data: erased by a real DELETE, never soft-deleted. */
export interface Customer {
  id: string;
  name: string;
  email: string;
  address: string;
  createdAt: string;
}

/** What the 409 of a sign-up whose address has an account names, whether the pre-check or the unique constraint found it. */
const CUSTOMER_EMAIL: [string, string] = ['A customer with this e-mail', 'email'];

/** The 409 of a sign-up whose address has an account (the route's pre-check). */
export const customerEmailTaken = (): AlreadyExistsError => new AlreadyExistsError(...CUSTOMER_EMAIL);

/**
 * Inserts a new customer, with the hash of their password when they chose one (`hashPassword`; null:
 * none yet). The transaction must act as that customer (actor = the new id), which is what the
 * customers' WITH CHECK policy demands: nobody signs up someone else. The hash is never answered.
 */
export async function signUpCustomer(tx: Tx, input: { id: string; name: string; email: string; address: string; passwordHash?: string | null }): Promise<Customer> {
  try {
    const row = await tx.query<Customer>(
      `insert into platform.customers (id, name, email, address, password_hash) values ($1, $2, lower($3), $4, $5)
       returning id, name, email, address, created_at as "createdAt"`,
      [input.id, input.name, input.email, input.address, input.passwordHash ?? null],
    );
    return row.rows[0] as Customer;
  } catch (error) {
    mapPlatformError(error, { unique: CUSTOMER_EMAIL });
  }
}
