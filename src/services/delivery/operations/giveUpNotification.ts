import type { Tx } from '../../../platform/db/index.ts';
import { causeOfRow, type CauseColumns } from './dispatchCause.ts';
import { raiseDispatchAlert } from './raiseDispatchAlert.ts';
import { releaseCourier } from './releaseCourier.ts';

/**
 * Gives up telling ordering of an assignment after its last failed notice: the assignment cannot
 * stand (ordering never recorded it, or its CourierAssigned would have confirmed it), so the order is
 * dead-lettered like one that found no courier (state `dead`, an alert row and `DispatchFailed`, see
 * {@link raiseDispatchAlert}) and the courier is released ({@link releaseCourier}, reason `dropped`).
 * Only while the order is still assigned to `courierId` and unconfirmed: a CourierAssigned handled
 * meanwhile (ordering got the notice after all, or staff chose a courier) wins. `error` (the last
 * notice's) goes to the row's `last_error`, never to the alert staff read. Returns whether it gave up.
 * Run as the system actor.
 */
export async function giveUpNotification(tx: Tx, input: { tenantId: string; orderId: string; courierId: string; attempts: number; error: string }): Promise<boolean> {
  // Restaurant staff read the reason (the alert, DispatchFailed on the board): what happened and what
  // to do, in their words. The raw error (driver or SQL text, host names) is kept in last_error only.
  const reason =
    `The courier found for this order (${input.courierId}) could not be confirmed after ${input.attempts} attempts ` +
    `and has been released. Assign a courier to the order or cancel it.`;
  const lastError = `gave up telling ordering of courier ${input.courierId} after ${input.attempts} failed notices; last error: ${input.error.slice(0, 1000)}`;
  const { rows } = await tx.query<{ city: string } & CauseColumns>(
    `update delivery.dispatch_queue set state = 'dead', finished_at = now(), notify_attempts = $4, last_error = $5
      where tenant_id = $1 and order_id = $2 and courier_id = $3 and state = 'assigned' and notified_at is null
      returning city, causation_id, correlation_id, traceparent`,
    [input.tenantId, input.orderId, input.courierId, input.attempts, lastError],
  );
  const row = rows[0];
  if (row === undefined) return false;
  await releaseCourier(tx, { tenantId: input.tenantId, orderId: input.orderId, courierId: input.courierId, reason: 'dropped' });
  await raiseDispatchAlert(tx, { tenantId: input.tenantId, orderId: input.orderId, city: row.city, attempts: input.attempts, reason, cause: causeOfRow(row) });
  return true;
}
