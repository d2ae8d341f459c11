import type { Statement } from '../../../platform/db/index.ts';

/** What {@link customerTokenCheckStatement} answers: its one row. */
export interface CustomerTokenStanding {
  /** The customer's data key is a tombstone (decision 0090). */
  readonly erased: boolean;
  /** The customer's credentials version (decision 0007); 0 for an id that is no customer. */
  readonly credentialsVersion: number;
}

/**
 * The statement that tells whether a customer token still stands: one row, whether the customer was
 * erased (their data key is a tombstone, decision 0090) and their current credentials version (a
 * token carrying an older one is revoked, decision 0007), 0 for an id that never signed up or whose
 * row erasure deleted. Two primary-key look-ups as scalar sub-selects of ONE statement, so the check
 * stays one round trip. Run read-only by the system actor `customer-token-check` (the key table's
 * `system_read`, the customers' `token_check_read` of platform migration 0028). The text names
 * `platform.customer_keys`, by which the read-cost tests tell the check from a route's own reads.
 */
export function customerTokenCheckStatement(customerId: string): Statement {
  return {
    name: 'brigade_customer_token_check',
    text: `select exists (select 1 from platform.customer_keys where customer_id = $1 and key is null) as erased,
                  coalesce((select credentials_version from platform.customers where id = $1), 0) as "credentialsVersion"`,
    values: [customerId],
  };
}
