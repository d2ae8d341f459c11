import type { Statement } from '../../../platform/db/index.ts';

/**
 * The statement that tells whether a customer was erased: one row when their data key is a tombstone
 * (decision 0090), none for a live customer or an id never seen. Run by a system actor (the key table's
 * policies), read-only; one primary-key look-up.
 */
export function isCustomerErasedStatement(customerId: string): Statement {
  return { name: 'brigade_customer_erased', text: 'select 1 from platform.customer_keys where customer_id = $1 and key is null', values: [customerId] };
}
