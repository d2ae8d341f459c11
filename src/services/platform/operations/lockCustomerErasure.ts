import type { Tx } from '../../../platform/db/index.ts';

/**
 * Takes the advisory lock of `customerId`'s erasure until the transaction ends
 * (`pg_advisory_xact_lock`, two-int key `hashtext('brigade.customer_erasure')`, `hashtext(customer)`):
 * exclusive for an erasure, which takes it first and so holds it across its look-up for open orders
 * up to its commit; shared for a placement's check (`isCustomerErased`), which thus waits for an
 * erasure in progress (decision 0090). Another customer sharing the 32-bit hash only makes one wait
 * for the other's short transaction.
 *
 * Why a lock and not the key row's: a row lock (`for share`) gives the placement's check a transaction
 * id and a WAL flush at its commit, on every placement; an advisory lock writes nothing.
 */
export async function lockCustomerErasure(tx: Tx, customerId: string, mode: 'exclusive' | 'shared'): Promise<void> {
  const fn = mode === 'exclusive' ? 'pg_advisory_xact_lock' : 'pg_advisory_xact_lock_shared';
  await tx.query(`select ${fn}(hashtext('brigade.customer_erasure'), hashtext($1::text))`, [customerId.toLowerCase()]);
}
