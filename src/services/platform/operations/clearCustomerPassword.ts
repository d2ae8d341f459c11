import type { Tx } from '../../../platform/db/index.ts';
import { NotFoundError } from '../../../platform/errors/index.ts';

/**
 * Removes a customer's password (an admin's transaction: the customers' `admin_all` policy), so that
 * they set a new one with a token an admin mints them: the platform's password reset while it
 * delivers no e-mail (decision 0007). The same statement adds one to the customer's credentials
 * version, so every customer token given before is refused from now on (401 `TOKEN_REVOKED`): the
 * reset after a compromise ends the stolen token too. That holds with no password set as well: an
 * admin's way to end every token of a customer. A token minted afterwards carries the new version.
 *
 * @throws {NotFoundError} 404: no such customer.
 */
export async function clearCustomerPassword(tx: Tx, customerId: string): Promise<void> {
  const { rowCount } = await tx.query('update platform.customers set password_hash = null, credentials_version = credentials_version + 1 where id = $1', [customerId]);
  if (rowCount === 0) throw new NotFoundError('customer', customerId);
}
