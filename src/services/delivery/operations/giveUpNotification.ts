import type { Tx } from '../../../platform/db/index.ts';
import { raiseDispatchAlert } from './raiseDispatchAlert.ts';
import { releaseCourier } from './releaseCourier.ts';

/**
 * Gives up telling ordering of an assignment after its last failed notice: the assignment cannot
 * stand (ordering never recorded it, or its CourierAssigned would have confirmed it), so the order is
 * dead-lettered like one that found no courier (state `dead`, an alert row and `DispatchFailed`, see
 * {@link raiseDispatchAlert}) and the courier is released ({@link releaseCourier}, reason `dropped`).
 * Only while the order is still assigned to `courierId` and unconfirmed: a CourierAssigned handled
 * meanwhile (ordering got the notice after all, or staff chose a courier) wins. Returns whether it
 * gave up. Run as the system actor.
 */
export async function giveUpNotification(tx: Tx, input: { tenantId: string; orderId: string; courierId: string; attempts: number; error: string }): Promise<boolean> {
  const reason =
    `ordering could not be told that courier ${input.courierId} takes the order after ${input.attempts} attempts ` +
    `(last error: ${input.error.slice(0, 300)}); the courier is free again: assign a courier to the order or cancel it`;
  const { rows } = await tx.query<{ city: string }>(
    `update delivery.dispatch_queue set state = 'dead', finished_at = now(), notify_attempts = $4, last_error = $5
      where tenant_id = $1 and order_id = $2 and courier_id = $3 and state = 'assigned' and notified_at is null
      returning city`,
    [input.tenantId, input.orderId, input.courierId, input.attempts, reason],
  );
  const row = rows[0];
  if (row === undefined) return false;
  await releaseCourier(tx, { tenantId: input.tenantId, orderId: input.orderId, courierId: input.courierId, reason: 'dropped' });
  await raiseDispatchAlert(tx, { tenantId: input.tenantId, orderId: input.orderId, city: row.city, attempts: input.attempts, reason });
  return true;
}
