import type { Tx } from '../../../platform/db/index.ts';
import { announceDispatch } from './dispatchWork.ts';
import { releaseCourier } from './releaseCourier.ts';

/**
 * Undoes a staff reservation ({@link reserveCourier}) that ordering never recorded: its command was
 * refused after the reservation committed (a 412, a crash), so staff were told nothing was assigned.
 * The courier is released ({@link releaseCourier}, reason `dropped`) and the order's row goes back to
 * what it was (`reserved_from`): `queued` (due now), `dead`, or, for a row the reservation added (the
 * order not queued yet) or took from `dropped`, `dropped` without a courier, which the order's
 * OrderReady queues (`enqueueOrder`); if that OrderReady arrived while the reservation awaited its
 * lease, `enqueueOrder` marked the row `queued`, and it is queued now. With `orderHasCourier` (ordering
 * recorded another courier, whose CourierAssigned is on its way: had it arrived, it would have replaced
 * this reservation, see `recordCourierAssigned`) the row is `dropped` without a courier: that event assigns it.
 * Only while the row still holds this unconfirmed reservation; returns whether it undid it. Run as the
 * system actor.
 */
export async function undoReservation(tx: Tx, input: { tenantId: string; orderId: string; courierId: string; orderHasCourier: boolean }): Promise<boolean> {
  const { rows } = await tx.query<{ reserved_from: string }>(
    `select reserved_from from delivery.dispatch_queue
      where tenant_id = $1 and order_id = $2 and courier_id = $3 and state = 'assigned' and notified_at is null and reserved_from is not null
      for update`,
    [input.tenantId, input.orderId, input.courierId],
  );
  const row = rows[0];
  if (row === undefined) return false;
  const back = input.orderHasCourier ? 'dropped' : row.reserved_from === 'queued' || row.reserved_from === 'dead' ? row.reserved_from : 'dropped';
  // The reservation's number goes with it (never appended); courier_assignment, the last number ordering
  // recorded, stays, so that an older CourierAssigned arriving later is still known as older.
  await tx.query(
    `update delivery.dispatch_queue
        set state = $3, courier_id = null, assigned_at = null, notified_at = null, reserved_from = null, reserved_assignment = null,
            notify_attempts = 0, next_attempt_at = now(), finished_at = case when $3 = 'queued' then null else now() end,
            last_error = $4
      where tenant_id = $1 and order_id = $2`,
    [input.tenantId, input.orderId, back, `staff's reservation of courier ${input.courierId} was not recorded by ordering: undone`],
  );
  await releaseCourier(tx, { tenantId: input.tenantId, orderId: input.orderId, courierId: input.courierId, reason: 'dropped' });
  if (back === 'queued') announceDispatch(tx);
  return true;
}
