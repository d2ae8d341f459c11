import type { Tx } from '../../../platform/db/index.ts';
import { NotFoundError } from '../../../platform/errors/index.ts';

/**
 * Removes a customer's password (an admin's transaction: the customers' `admin_all` policy), so that
 * they set a new one with a token an admin mints them: the platform's password reset while it
 * delivers no e-mail (decision 0007). Tokens given before stay valid until they expire.
 *
 * @throws {NotFoundError} 404: no such customer.
 */
export async function clearCustomerPassword(tx: Tx, customerId: string): Promise<void> {
  const { rowCount } = await tx.query('update platform.customers set password_hash = null where id = $1', [customerId]);
  if (rowCount === 0) throw new NotFoundError('customer', customerId);
}
