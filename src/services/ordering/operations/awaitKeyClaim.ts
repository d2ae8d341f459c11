import type { UnitOfWorkContext } from '../../../platform/db/index.ts';
import type { UnitOfWorkFn } from '../../../platform/tenancy/index.ts';
import { findIdempotencyKey, type IdempotencyRecord } from './findIdempotencyKey.ts';
import { lockIdempotencyKeyStatement } from './lockIdempotencyKey.ts';

/**
 * The live record of a customer's key once the placement of it in flight in this database, if any,
 * has committed or rolled back; `null` when none holds the key then. One read-only transaction in
 * `context` (its tenant picks the database: the restaurant's, where its placements claim), in one
 * round trip and its COMMIT.
 *
 * How it waits: every order's transaction takes the key's advisory lock before its claim
 * (`lockIdempotencyKeyStatement`); this takes the same lock, so it waits for such a transaction to
 * end, and the SELECT after it (a new READ COMMITTED snapshot) reads the record that one committed.
 *
 * For a placement the menu or `decide` refused: a retry of a request whose first attempt is committing
 * must answer that attempt's order, not the refusal (decision 0026, Fixed later). Only that path runs
 * it: a placement that is accepted pays nothing.
 *
 * @example
 * const holder = await awaitKeyClaim(unitOfWork, { service: 'ordering', tenantId: restaurantId, actor }, customerId, key);
 */
export async function awaitKeyClaim(unitOfWork: UnitOfWorkFn, context: UnitOfWorkContext, customerId: string, key: string): Promise<IdempotencyRecord | null> {
  return unitOfWork({ ...context, readOnly: true }, async (tx) => {
    const [, record] = await Promise.all([tx.query(lockIdempotencyKeyStatement(customerId, key)), findIdempotencyKey(tx, customerId, key)]);
    return record;
  });
}
