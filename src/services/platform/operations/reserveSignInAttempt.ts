import type { Tx } from '../../../platform/db/index.ts';
import { TooManyAttemptsError } from './errors.ts';

/** The system actor that signs customers in: the only one that reads their password hashes by e-mail and writes attempts. */
export const SIGN_IN_ACTOR = { kind: 'system', id: 'customer-sign-in' } as const;

/**
 * How many failed sign-ins an e-mail address may have within the window before the next attempt is
 * refused (429) without its password being checked: 5 within 15 minutes (decision 0007).
 */
export const SIGN_IN_LIMIT = Object.freeze({ failures: 5, windowSeconds: 15 * 60 });

/** How many expired attempts one reservation deletes at most: pruning stays a small, bounded cost. */
const PRUNE_BATCH = 100;

/**
 * Reserves a sign-in attempt for `email` in a transaction of {@link SIGN_IN_ACTOR}: unless the address
 * had {@link SIGN_IN_LIMIT}`.failures` failures within the window, writes an attempt row, which counts
 * as a failure until {@link releaseSignInAttempt} deletes it (when the password matched). Written
 * before the password is checked, so that concurrent guesses, in this process or another, cannot pass
 * the limit between their check and their count, and an attempt whose process dies counts as failed.
 *
 * The address is kept as the SHA-256 of its lower-cased form, computed by PostgreSQL with the same
 * `lower` sign-up stores it with, and nothing tells whether a customer has it: an unknown address is
 * counted and held exactly as a customer's. Each call also deletes up to 100 attempts older than the
 * window (any address), skipping rows another call is deleting.
 *
 * @returns the attempt's id, for {@link releaseSignInAttempt}.
 * @throws {TooManyAttemptsError} 429: held; `retryAfterSeconds` is when the limit's oldest failure in
 *   the window leaves it. Nothing is written then.
 */
export async function reserveSignInAttempt(tx: Tx, email: string): Promise<string> {
  const { failures, windowSeconds } = SIGN_IN_LIMIT;
  // One reservation at a time per address, across processes: the count below then sees every attempt
  // committed before (READ COMMITTED takes a snapshot per statement, after the lock is granted).
  const { rows: keyed } = await tx.query<{ hash: Buffer }>(
    `select h.hash, pg_advisory_xact_lock(hashtext('brigade.customer_sign_in'), hashtext(encode(h.hash, 'hex')))
       from (select sha256(convert_to(lower($1), 'UTF8')) as hash) h`,
    [email],
  );
  const hash = keyed[0]!.hash;
  await tx.query(
    `delete from platform.customer_sign_in_attempts where id in (
       select id from platform.customer_sign_in_attempts where at <= now() - make_interval(secs => $1)
        order by at limit $2 for update skip locked)`,
    [windowSeconds, PRUNE_BATCH],
  );
  // The failures-th most recent failure in the window: while there is one, the address is held until it
  // leaves the window.
  const { rows: held } = await tx.query<{ retry_after: number }>(
    `select extract(epoch from at + make_interval(secs => $2) - now())::float8 as retry_after
       from platform.customer_sign_in_attempts where email_hash = $1 and at > now() - make_interval(secs => $2)
      order by at desc offset $3 - 1 limit 1`,
    [hash, windowSeconds, failures],
  );
  if (held[0] !== undefined) throw new TooManyAttemptsError(failures, windowSeconds, Math.max(1, Math.ceil(held[0].retry_after)));
  const { rows } = await tx.query<{ id: string }>('insert into platform.customer_sign_in_attempts (email_hash) values ($1) returning id', [hash]);
  return rows[0]!.id;
}
