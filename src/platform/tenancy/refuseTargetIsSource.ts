import { randomInt } from 'node:crypto';
import type pg from 'pg';
import { BrigadeError } from '../errors/index.ts';

/**
 * First key of the probe's advisory lock (two-int key space, apart from the platform's single-bigint
 * keys): the second is random, one per check, so concurrent moves never probe with each other's lock.
 */
const PROBE_LOCK_CLASS = `hashtext('brigade.tenant_move_same_database')`;

/**
 * Refuses a move's target that is its source, the shared database, under another URL (or the same):
 * the move would clear the tenant's rows there and then delete them. `TENANT_TARGET_IS_SOURCE` (409).
 * Checked first of all the target's checks (`openMoveTarget`): what the shared database holds beside
 * Brigade's schemas (the stand-in payment provider's `payment_provider`, left by `brigade start` and
 * `demo`) would otherwise be refused as another application's, which says nothing of the mistake.
 *
 * The source session takes a session advisory lock on a random key, and the target session tries the
 * same key: advisory locks belong to one database of one server, so the target is refused the lock
 * exactly when it is the same database, whatever host spelling, port alias or login role its URL uses.
 * Unlike `pg_stat_activity` (whose `backend_start` is NULL to a role without the other role's
 * privileges), this needs no privilege: `pg_try_advisory_lock` is every role's. An answer that is
 * not a clear "another database" refuses the move too. Both locks are let go before it returns.
 *
 * @throws {BrigadeError} `TENANT_TARGET_IS_SOURCE` (409): the target is the shared database, or the
 * check could not tell (then the message says to run the move again).
 */
export async function refuseTargetIsSource(source: pg.Client, target: pg.Client): Promise<void> {
  // 2^31 values: two moves probing the one shared database at the same instant with the same key would
  // make the later one "cannot tell" (refused, run again), never a wrong "another database".
  const key = randomInt(-(2 ** 31), 2 ** 31);
  const sourceLock = await source.query<{ ok: boolean }>(`select pg_try_advisory_lock(${PROBE_LOCK_CLASS}, $1::int) as ok`, [key]);
  const sourceHolds = sourceLock.rows[0]?.ok === true;
  let targetHolds = false;
  try {
    if (!sourceHolds) throw cannotTell();
    const targetLock = await target.query<{ ok: boolean | null }>(`select pg_try_advisory_lock(${PROBE_LOCK_CLASS}, $1::int) as ok`, [key]);
    const answer = targetLock.rows[0]?.ok;
    targetHolds = answer === true;
    if (answer === false) {
      throw new BrigadeError('TENANT_TARGET_IS_SOURCE', 409, 'The target is the shared database itself; create a new, empty database and move the tenant there');
    }
    if (answer !== true) throw cannotTell();
  } finally {
    // A failed unlock leaves a lock no other code takes until the session ends (the move ends it).
    if (targetHolds) await target.query(`select pg_advisory_unlock(${PROBE_LOCK_CLASS}, $1::int)`, [key]).catch(() => undefined);
    if (sourceHolds) await source.query(`select pg_advisory_unlock(${PROBE_LOCK_CLASS}, $1::int)`, [key]).catch(() => undefined);
  }
}

/** The check could not tell whether the target is the shared database: refused, never let through. */
function cannotTell(): BrigadeError {
  return new BrigadeError(
    'TENANT_TARGET_IS_SOURCE',
    409,
    'Could not tell whether the target is the shared database itself (its check lock was taken meanwhile); nothing moved: run the move again',
  );
}
