import type { Statement, Tx } from '../../../platform/db/index.ts';
import { findIdempotencyKey, IDEMPOTENCY_KEY_TTL_HOURS, type IdempotencyRecord } from './findIdempotencyKey.ts';

/** The outcome of a claim: `won` (this transaction owns the key now, for `orderId`) or the record that holds it. */
export type ClaimResult = { readonly won: true; readonly orderId: string } | { readonly won: false; readonly existing: IdempotencyRecord };

/**
 * Claims a key for a new order in the caller's transaction, which must then append the order's first
 * events (both commit or neither does). With `reservation`, it reserves the key in the shared database
 * for an order that its restaurant's own database will hold (migration 0037), in a transaction of its
 * own: a reservation of the same body is renewed (its 24 hours start again) and its order id answered,
 * so a retry places the order the first attempt reserved.
 *
 * Why one INSERT … ON CONFLICT: of two concurrent claims of one key, the second waits on the first's
 * uncommitted index entry; if the first commits, the second's DO UPDATE finds a live key (its WHERE is
 * false) and returns no row, and the following SELECT (a new READ COMMITTED snapshot) sees the winner's
 * record; if the first rolls back, the second inserts. No unique-violation error aborts the transaction,
 * and an expired key is taken over in the same statement.
 */
export async function claimIdempotencyKey(tx: Tx, claim: KeyClaim): Promise<ClaimResult> {
  const inserted = await tx.query<{ order_id: string }>(claimStatement(claim));
  const won = inserted.rows[0];
  if (won !== undefined) return { won: true, orderId: won.order_id };
  const existing = await findIdempotencyKey(tx, claim.customerId, claim.key);
  if (existing === null) throw new Error('idempotency key neither claimed nor found');
  return { won: false, existing };
}

/** A claim of a key: the customer's key, the request's hash, and the order it is for. */
export interface KeyClaim {
  readonly customerId: string;
  readonly key: string;
  readonly requestHash: Buffer;
  readonly orderId: string;
  readonly restaurantId: string;
  readonly responseStatus: number;
  readonly reservation?: boolean;
}

/**
 * The claim's statement alone: it returns the row's `order_id` when this transaction took the key,
 * no row when a live record holds it (a caller that sends it together with the order's writes rolls
 * them back then, and looks the record up).
 */
export function claimStatement(claim: KeyClaim): Statement {
  return {
    name: 'brigade_claim_idempotency_key',
    text: `insert into ordering.idempotency_keys as k (customer_id, key, request_hash, order_id, restaurant_id, response_status, reservation)
           values ($1, $2, $3, $4, $5, $6, $8)
           on conflict (customer_id, key) do update
              set request_hash = excluded.request_hash,
                  order_id = case when k.created_at <= now() - make_interval(hours => $7) then excluded.order_id else k.order_id end,
                  restaurant_id = excluded.restaurant_id, response_status = excluded.response_status, reservation = excluded.reservation, created_at = now()
            where k.created_at <= now() - make_interval(hours => $7)
               or (excluded.reservation and k.reservation and k.request_hash = excluded.request_hash)
           returning k.order_id`,
    values: [claim.customerId, claim.key, claim.requestHash, claim.orderId, claim.restaurantId, claim.responseStatus, IDEMPOTENCY_KEY_TTL_HOURS, claim.reservation ?? false],
  };
}
