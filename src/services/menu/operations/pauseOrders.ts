import { isBadInstant, type Tx } from '../../../platform/db/index.ts';
import { ValidationError } from '../../../platform/errors/index.ts';
import { bumpMenuVersion } from './bumpMenuVersion.ts';
import { instantText } from './instantText.ts';
import { MAX_PAUSE_DAYS, type OrderPause } from './orderPauseSql.ts';

/**
 * Pauses restaurant `tenantId`'s new orders (decision 0094), or replaces its pause: `reason` is shown
 * to customers, `until` (RFC 3339, bound as sent) is when it takes orders again by itself; without it,
 * until {@link resumeOrders}. Takes the menu's lock and gives the menu a new version
 * ({@link bumpMenuVersion}): the menu document shows the pause, so its ETag must change, as for any
 * menu write. The caller's transaction also evicts the cached menu after commit.
 *
 * @throws {ValidationError} `until` not later than now, more than {@link MAX_PAUSE_DAYS} days ahead, or
 *   an instant PostgreSQL cannot hold (400, field `until`).
 */
export async function pauseOrders(tx: Tx, tenantId: string, pause: { readonly reason?: string | undefined; readonly until?: string | undefined }, pausedBy: string): Promise<OrderPause> {
  await bumpMenuVersion(tx, tenantId);
  let rows: OrderPause[];
  try {
    // Checked against the database's clock, the one placements compare `until` with.
    ({ rows } = await tx.query<OrderPause>(
      `insert into menu.order_pauses (tenant_id, reason, until, paused_at, paused_by)
       select $1, $2, $3::timestamptz, now(), $4
        where $3::timestamptz is null or ($3::timestamptz > now() and $3::timestamptz <= now() + make_interval(days => $5))
       on conflict (tenant_id) do update set reason = excluded.reason, until = excluded.until, paused_at = excluded.paused_at, paused_by = excluded.paused_by
       returning reason, ${instantText('until')} as until, ${instantText('paused_at')} as since`,
      [tenantId, pause.reason ?? null, pause.until ?? null, pausedBy, MAX_PAUSE_DAYS],
    ));
  } catch (error) {
    if (isBadInstant(error)) {
      throw new ValidationError(`until ${JSON.stringify(pause.until)} is not an instant PostgreSQL can hold: send one such as 2026-12-07T22:00:00Z`, { field: 'until' });
    }
    throw error;
  }
  if (rows[0] === undefined) {
    throw new ValidationError(
      `until ${JSON.stringify(pause.until)} must be later than now and at most ${MAX_PAUSE_DAYS} days ahead; to pause until you resume, leave it out`,
      { field: 'until' },
    );
  }
  return rows[0];
}
