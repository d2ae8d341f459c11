import type { Tx } from '../../../platform/db/index.ts';
import { NotFoundError } from '../../../platform/errors/index.ts';
import { forgetSignInAttempts } from './forgetSignInAttempts.ts';

/** The actor that writes an erased customer's tombstone (platform migration 0026's policies). */
const ERASURE = 'customer-erasure';

/**
 * Erases a customer (decision 0090): deletes their row (their card on file goes with it) and destroys
 * their data key, leaving its tombstone, so every value sealed under it (delivery addresses in the order
 * log, the outbox, the broker and the views) reads as `null` from now on.
 *
 * The transaction acts as the caller, a customer (themselves) or an admin: the row's delete runs under
 * their policies. The caller's right to erase `customerId` is the route's to check before; the key is
 * then destroyed as the system actor `customer-erasure`, the only one the key table lets write a
 * tombstone (and nobody reads a key but system actors); as that actor too, their address's sign-in
 * attempts and their wrong current passwords are deleted ({@link forgetSignInAttempts}, hashed under `attemptsKey`).
 *
 * @throws {NotFoundError} nothing to erase: no customer row and no live key (an id never seen, or one
 *   erased already). The transaction then rolls back, writing no tombstone.
 */
export async function eraseCustomer(tx: Tx, customerId: string, attemptsKey: Buffer): Promise<void> {
  const gone = await tx.query<{ email: string }>('delete from platform.customers where id = $1 returning email', [customerId]);
  await tx.query(`select set_config('brigade.actor_kind', 'system', true), set_config('brigade.actor_id', $1, true)`, [ERASURE]);
  const { rows } = await tx.query<{ had_key: boolean }>(
    `insert into platform.customer_keys as k (customer_id, key, erased_at) values ($1, null, now())
     on conflict (customer_id) do update set key = null, erased_at = now() where k.erased_at is null
     returning (xmax <> 0) as had_key`,
    [customerId],
  );
  // An insert (xmax 0) is a tombstone for a customer who never had a key; an update destroyed a live one.
  if (gone.rowCount === 0 && rows[0]?.had_key !== true) throw new NotFoundError('customer', customerId);
  await forgetSignInAttempts(tx, attemptsKey, customerId, gone.rows[0]?.email);
}
