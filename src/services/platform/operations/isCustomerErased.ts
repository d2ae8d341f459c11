import type { Tx } from '../../../platform/db/index.ts';
import { lockCustomerErasure } from './lockCustomerErasure.ts';

/**
 * Whether the customer's data key is destroyed (decision 0090), read once any erasure of theirs in
 * progress has committed or rolled back: it first takes the erasure's advisory lock shared, which waits
 * for an erasure holding it, then reads the key row in a statement of its own, whose snapshot is taken
 * after that wait. `false` for a customer without a key row. Must run on the primary (where erasures
 * take the lock), as a system actor (the table's policies).
 */
export async function isCustomerErased(tx: Tx, customerId: string): Promise<boolean> {
  await lockCustomerErasure(tx, customerId, 'shared');
  const { rows } = await tx.query<{ erased: boolean }>('select erased_at is not null as erased from platform.customer_keys where customer_id = $1', [customerId]);
  return rows[0]?.erased === true;
}
