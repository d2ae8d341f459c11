import { isBadInstant, type Tx } from '../../../platform/db/index.ts';
import { ValidationError } from '../../../platform/errors/index.ts';
import { bumpMenuVersion } from './bumpMenuVersion.ts';
import { instantText } from './instantText.ts';
import { MAX_PAUSE_DAYS, MAX_PAUSE_MINUTES, type OrderPause } from './orderPauseSql.ts';

/** What a pause is made of: at most one of `until` and `forMinutes`; neither, a pause until resumed. */
export interface PauseRequest {
  /** Shown to customers, or undefined: none. */
  readonly reason?: string | undefined;
  /** When it ends by itself (RFC 3339, bound as sent): later than the database's now, at most {@link MAX_PAUSE_DAYS} days ahead. */
  readonly until?: string | undefined;
  /** How long it lasts, in minutes from the database's now (1 to {@link MAX_PAUSE_MINUTES}): its end is computed in SQL. */
  readonly forMinutes?: number | undefined;
}

/**
 * Pauses restaurant `tenantId`'s new orders (decision 0094), or replaces its pause: `reason` is shown
 * to customers; the pause ends by itself at `until`, or `forMinutes` after the database's `now()` (the
 * clock placements compare the end with, so a pause "for 30 minutes" lasts 30 minutes whatever the
 * client's clock says); with neither, it lasts until {@link resumeOrders}. Takes the menu's lock and
 * gives the menu a new version ({@link bumpMenuVersion}): the menu document shows the pause, so its
 * ETag must change, as for any menu write. The caller's transaction also evicts the cached menu after
 * commit.
 *
 * @example
 * await pauseOrders(tx, rid, { reason: 'Kitchen closed early', forMinutes: 30 }, 'staff:ana');
 *
 * @throws {ValidationError} both `until` and `forMinutes`, or `forMinutes` outside 1 to
 *   {@link MAX_PAUSE_MINUTES} (400, field `forMinutes`); `until` not later than now, more than
 *   {@link MAX_PAUSE_DAYS} days ahead, or an instant PostgreSQL cannot hold (400, field `until`).
 */
export async function pauseOrders(tx: Tx, tenantId: string, pause: PauseRequest, pausedBy: string): Promise<OrderPause> {
  if (pause.until !== undefined && pause.forMinutes !== undefined) {
    throw new ValidationError(
      'Send either until or forMinutes, not both: forMinutes for a pause of that many minutes from now, until for one that ends at an instant; neither to pause until you resume',
      { field: 'forMinutes' },
    );
  }
  await bumpMenuVersion(tx, tenantId);
  let rows: OrderPause[];
  try {
    // Checked, or computed, on the database's clock, the one placements compare `until` with: a
    // duration becomes an end here, never on a client whose clock may be off.
    ({ rows } = await tx.query<OrderPause>(
      `with wanted as (
         select case when $6::integer is null then $3::timestamptz else now() + make_interval(mins => $6::integer) end as until
       )
       insert into menu.order_pauses (tenant_id, reason, until, paused_at, paused_by)
       select $1, $2, wanted.until, now(), $4
         from wanted
        where wanted.until is null or (wanted.until > now() and wanted.until <= now() + make_interval(days => $5))
       on conflict (tenant_id) do update set reason = excluded.reason, until = excluded.until, paused_at = excluded.paused_at, paused_by = excluded.paused_by
       returning reason, ${instantText('until')} as until, ${instantText('paused_at')} as since`,
      [tenantId, pause.reason ?? null, pause.until ?? null, pausedBy, MAX_PAUSE_DAYS, pause.forMinutes ?? null],
    ));
  } catch (error) {
    if (isBadInstant(error)) {
      throw new ValidationError(`until ${JSON.stringify(pause.until)} is not an instant PostgreSQL can hold: send one such as 2026-12-07T22:00:00Z`, { field: 'until' });
    }
    throw error;
  }
  if (rows[0] === undefined && pause.forMinutes !== undefined) {
    throw new ValidationError(`forMinutes ${pause.forMinutes} must be a whole number of minutes from 1 to ${MAX_PAUSE_MINUTES} (${MAX_PAUSE_DAYS} days); to pause until you resume, leave it out`, {
      field: 'forMinutes',
    });
  }
  if (rows[0] === undefined) {
    throw new ValidationError(
      `until ${JSON.stringify(pause.until)} must be later than now and at most ${MAX_PAUSE_DAYS} days ahead; for a pause of a number of minutes from now, send forMinutes instead; to pause until you resume, leave both out`,
      { field: 'until' },
    );
  }
  return rows[0];
}
