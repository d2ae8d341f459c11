import type { Tx } from '../../../platform/db/index.ts';
import { recordCourierAssigned, type CourierAssignedOutcome } from './recordCourierAssigned.ts';

/**
 * Takes the courier staff are assigning to an order off the dispatch's market before ordering records
 * the assignment (ordering's assign-courier calls it through its `CourierReservations` port, after
 * deciding and before appending; decision 0084). The order's dispatch row holds the courier and the
 * courier is busy with it, exactly as when ordering's CourierAssigned arrives
 * ({@link recordCourierAssigned}: a courier busy with another order keeps it and takes this one on its
 * release), except that the row awaits that event for `leaseMs` (`notified_at` null), and that an order
 * holding another courier is left as it is: the chosen courier is only held off the dispatch
 * (`held`, see `holdCourier`) until the event swaps them or `leaseMs` passes. The event, when it comes, only confirms it. If it never comes
 * (ordering's append lost a race, or its process died), the dispatch's notice sweep asks ordering for
 * this courier after the lease and drops the reservation if ordering refuses.
 *
 * The courier's row is locked here as the dispatch's claim locks it (`FOR UPDATE`; the claim skips a
 * locked courier and re-checks the status of one it waited for), so whichever commits first wins the
 * courier: a courier reserved is never claimed, and a courier the dispatch claimed first is reserved as
 * busy (this order waits for their current one). `assignment` is the number ordering's event will
 * carry, kept apart from the numbers ordering recorded until it confirms it (`reserved_assignment`): an
 * older CourierAssigned arriving meanwhile is applied, and the reservation becomes a hold of the courier
 * for the rest of its lease. Reserving the courier the row already holds unconfirmed starts the lease
 * again; reserving the courier the row holds otherwise, with a number above the one ordering last
 * recorded here (ordering moved the order to another courier since, and that event has not arrived),
 * holds them for the order (`held`) until their own event puts them back. Run as the system actor.
 *
 * @throws {CourierStoppingError} `COURIER_STOPPING` (422): the courier carries another order and asked
 *   to stop after it (`asked_to_stop`); nothing is written, and ordering refuses the command.
 */
export function reserveCourier(
  tx: Tx,
  input: { tenantId: string; orderId: string; courierId: string; assignment: number; city: string; leaseMs: number },
): Promise<CourierAssignedOutcome> {
  return recordCourierAssigned(tx, {
    tenantId: input.tenantId,
    orderId: input.orderId,
    courierId: input.courierId,
    messageId: null,
    assignment: input.assignment,
    city: input.city,
    unconfirmedForMs: input.leaseMs,
  });
}
