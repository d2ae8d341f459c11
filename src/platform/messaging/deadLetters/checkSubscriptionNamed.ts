import type pg from 'pg';
import { KNOWN_SUBSCRIPTIONS_SHOWN, NoSuchSubscriptionError } from '../errors.ts';

/**
 * Throws {@link NoSuchSubscriptionError} (400) when `subscription` is neither a subscription of the
 * registry (`brigade_bus.subscriptions`, which both transports write: JetStream's consumers are recorded
 * there too) nor the subscription of a parked letter (one whose subscription was removed or renamed
 * since is still listed and redriven by that name). A real subscription with no letters passes: its
 * list is empty and its redrive sends 0. Two index probes; the names of the error are read only when
 * it is thrown. `db` is a pool, or a client in the caller's transaction (the list's snapshot).
 *
 * @example
 * await checkSubscriptionNamed(pool, 'ordering-dispatch-alerts'); // a typo, 'ordering-dispatch-alert', throws
 */
export async function checkSubscriptionNamed(db: pg.Pool | pg.PoolClient, subscription: string): Promise<void> {
  const { rows } = await db.query<{ named: boolean }>(
    `select exists (select from brigade_bus.subscriptions where name = $1)
         or exists (select from brigade_bus.dead_letters where subscription = $1) as named`,
    [subscription],
  );
  if (rows[0]?.named === true) return;
  // Distinct letters' subscriptions read by a walk of their index; only on this error path.
  const { rows: known } = await db.query<{ name: string }>(
    `select name from brigade_bus.subscriptions
      union
     select subscription from brigade_bus.dead_letters
      order by 1 limit $1`,
    [KNOWN_SUBSCRIPTIONS_SHOWN + 1],
  );
  const names = known.map((r) => r.name);
  throw new NoSuchSubscriptionError(subscription, names.slice(0, KNOWN_SUBSCRIPTIONS_SHOWN), names.length > KNOWN_SUBSCRIPTIONS_SHOWN);
}
