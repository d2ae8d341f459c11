import type { Principal } from '../../../platform/auth/index.ts';
import type { Statement } from '../../../platform/db/index.ts';

/** What {@link tokenCheckStatement} answers: its one row. */
export interface TokenStanding {
  /** A customer token's customer: their data key is a tombstone (decision 0090). False for other roles. */
  readonly erased: boolean;
  /** A customer token's customer: their credentials version (decision 0007); 0 for an id that is no customer, and for other roles. */
  readonly credentialsVersion: number;
  /** The token's role and subject were revoked: tokens issued up to this time (ms since the epoch, a whole second) are refused; null when they never were. */
  readonly revokedBefore: number | null;
  /**
   * The revocations of the admins in the token's chain of minters (its `act` claim, `Principal.mintChain`),
   * in no order: tokens minted through such an admin, issued up to its `revokedBefore` (ms since the
   * epoch, a whole second), are refused. Null when none of them was revoked, or the token names no minter.
   */
  readonly minterRevocations: ReadonlyArray<{ readonly subject: string; readonly revokedBefore: number }> | null;
}

/**
 * The statement that tells whether a token still stands, whatever its role: one row, whether its
 * role and subject were revoked (`platform.token_revocations`, decision 0007), whether any admin in
 * its chain of minters was, and, for a customer token, whether the customer was erased (their data key
 * is a tombstone, decision 0090) and their current credentials version (a token carrying an older one
 * is revoked, decision 0007), 0 for an id that never signed up or whose row erasure deleted. Primary-key
 * look-ups as scalar sub-selects of ONE statement, so the check stays one round trip for every role;
 * for another role than customer the customer look-ups are of null and find nothing, and for a token
 * that names no minter the minters' look-up is of an empty array. Run read-only by the system actor
 * `token-check` (the key table's `system_read`, the customers' and the revocations' `token_check_read`,
 * platform migrations 0028 and 0033). The text names `platform.customer_keys`, by which the read-cost
 * tests tell the check from a route's own reads.
 */
export function tokenCheckStatement(principal: Pick<Principal, 'role' | 'subject' | 'mintChain'>): Statement {
  // A customer's id is a UUID, an admin's subject may be none: the customer look-ups take null then.
  const customerId = principal.role === 'customer' ? principal.subject : null;
  return {
    name: 'brigade_token_check',
    // The minters' revocations are all of them (at most MINT_CHAIN_MAX primary-key look-ups), compared
    // with the token's iat by the caller: no `order by … limit 1`, which could walk the index by time.
    text: `select exists (select 1 from platform.customer_keys where customer_id = $3 and key is null) as erased,
                  coalesce((select credentials_version from platform.customers where id = $3), 0) as "credentialsVersion",
                  (select extract(epoch from revoked_before)::float8 * 1000 from platform.token_revocations where role = $1 and subject = $2) as "revokedBefore",
                  (select json_agg(json_build_object('subject', subject, 'revokedBefore', extract(epoch from revoked_before)::float8 * 1000))
                     from platform.token_revocations where role = 'admin' and subject = any($4::text[])) as "minterRevocations"`,
    values: [principal.role, principal.subject, customerId, principal.mintChain ?? []],
  };
}
