import type pg from 'pg';
import { BrigadeError } from '../errors/index.ts';

/**
 * Refuses a move's target that is its source, the shared database, under another URL (or the same):
 * the move would clear the tenant's rows there and then delete them. `TENANT_TARGET_IS_SOURCE` (409).
 * Checked first of all the target's checks (`openMoveTarget`): what the shared database holds beside
 * Brigade's schemas (the stand-in payment provider's `payment_provider`, left by `brigade start` and
 * `demo`) would otherwise be refused as another application's, which says nothing of the mistake.
 */
export async function refuseTargetIsSource(source: pg.Client, target: pg.Client): Promise<void> {
  // The target's session as the source sees it: the same backend (pid and start, to the microsecond) in
  // the same database means one database under two URLs.
  const session = await target.query<{ pid: number; started: string }>(`select pid, backend_start::text as started from pg_stat_activity where pid = pg_backend_pid()`);
  const same = await source.query(`select 1 from pg_stat_activity where pid = $1 and backend_start::text = $2 and datname = current_database()`, [session.rows[0]?.pid, session.rows[0]?.started]);
  if ((same.rowCount ?? 0) > 0) {
    throw new BrigadeError('TENANT_TARGET_IS_SOURCE', 409, 'The target is the shared database itself; create a new, empty database and move the tenant there');
  }
}
