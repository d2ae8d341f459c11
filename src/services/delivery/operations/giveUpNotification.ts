import type { Tx } from '../../../platform/db/index.ts';
import { causeOfRow, type CauseColumns } from './dispatchCause.ts';
import { raiseDispatchAlert } from './raiseDispatchAlert.ts';

/**
 * Stops retrying quietly: the notice of an assignment to ordering that has just failed for the
 * `maxNotifyAttempts`-th time ({@link postponeNotification} returned that count, in the caller's
 * transaction, which has postponed the next notice) alerts staff (an alert row and `DispatchFailed`,
 * see {@link raiseDispatchAlert}). The courier is **kept** busy with the order: ordering may have
 * recorded the assignment with only its answer lost, and a courier freed here would be dispatched again
 * and then get this order too from ordering's late CourierAssigned (two orders at once; found by
 * review). What settles it: the next notice once ordering answers (it confirms the courier, or refuses
 * because the order ended or has staff's courier: the courier is freed), ordering's CourierAssigned
 * (confirms, or staff's courier replaces this one), or staff cancelling the order. The alert says so.
 *
 * Only while the order is still assigned to `courierId` and unconfirmed: a CourierAssigned handled
 * meanwhile (ordering got the notice after all, or staff chose a courier) wins. `error` (the last
 * notice's) goes to the row's `last_error`, never to the alert staff read. Returns whether it alerted.
 * Run as the system actor.
 */
export async function giveUpNotification(
  tx: Tx,
  input: { tenantId: string; orderId: string; courierId: string; attempts: number; error: string },
): Promise<boolean> {
  // Restaurant staff read the reason (the alert, DispatchFailed on the board): what happened and what
  // to do, in their words. The raw error (driver or SQL text, host names) is kept in last_error only.
  const reason =
    `The courier found for this order (${input.courierId}) could not be confirmed after ${input.attempts} attempts. ` +
    `They are kept for the order while the dispatch keeps trying; to settle it now, assign a courier to the order or cancel it.`;
  const lastError = `alerted staff after ${input.attempts} failed notices to ordering of courier ${input.courierId}; last error: ${input.error.slice(0, 1000)}`;
  const { rows } = await tx.query<{ city: string } & CauseColumns>(
    `update delivery.dispatch_queue set last_error = $4
      where tenant_id = $1 and order_id = $2 and courier_id = $3 and state = 'assigned' and notified_at is null
      returning city, causation_id, correlation_id, traceparent`,
    [input.tenantId, input.orderId, input.courierId, lastError],
  );
  const row = rows[0];
  if (row === undefined) return false;
  await raiseDispatchAlert(tx, { tenantId: input.tenantId, orderId: input.orderId, city: row.city, attempts: input.attempts, reason, cause: causeOfRow(row) });
  return true;
}
