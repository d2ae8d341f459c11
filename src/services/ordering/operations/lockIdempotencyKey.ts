import type { Statement } from '../../../platform/db/index.ts';

/**
 * The statement that takes a customer's key's advisory lock until the transaction ends
 * (`pg_advisory_xact_lock`, two-int key `hashtext('brigade.idempotency_key')`, `hashtext(customer || key)`).
 *
 * Why a lock besides the claim's unique index: the index makes another transaction wait only once the
 * claim's row is in it, and a plain SELECT never waits. The order's transaction sends this first, in
 * the batch of its claim (no round trip of its own), so that from the moment its batch reaches the
 * database a placement of the key is visible as in flight: a refused retry takes the same lock
 * (`awaitKeyClaim`), waits for it to commit or roll back, and then reads what it left. Another key
 * sharing the 32-bit hash only makes one of them wait for the other's short transaction.
 */
export function lockIdempotencyKeyStatement(customerId: string, key: string): Statement {
  return {
    name: 'brigade_lock_idempotency_key',
    text: `select pg_advisory_xact_lock(hashtext('brigade.idempotency_key'), hashtext($1::text || $2::text))`,
    values: [customerId, key],
  };
}
