import type { Tx } from '../../../platform/db/index.ts';
import { CourierStoppingError } from '../errors.ts';
import { clearCourierHold } from './clearCourierHold.ts';
import { holdCourier } from './holdCourier.ts';
import { releaseCourier } from './releaseCourier.ts';

/** What {@link recordCourierAssigned} did with ordering's CourierAssigned. */
export type CourierAssignedOutcome =
  /** The order now holds this courier, who is busy with it (staff's choice, or the dispatch's again after it gave up). */
  | 'assigned'
  /** The order already held this courier (the dispatch's own assignment): confirmed, its notice is done. */
  | 'confirmed'
  /** Nothing to do: the order is over, or a newer assignment was applied already. */
  | 'ignored'
  /**
   * A reservation for an order that holds another courier: the order is left as it is, and the chosen
   * courier is held off the dispatch ({@link holdCourier}) until ordering's event makes the swap. Also a
   * reservation of the courier the order's row holds when ordering has recorded another courier since
   * (a reassignment delivery has not seen yet): that courier is held for the order, so that the other
   * courier's event, which releases them, does not make them dispatchable before their own event.
   */
  | 'held';

/**
 * Applies ordering's `CourierAssigned { orderId, courierId }` (message `messageId`) to delivery, in the
 * order-events consumer's inbox transaction: the order's dispatch row holds that courier (assigned,
 * ordering told), and the courier is busy with it, so the dispatch never hands them another order (for
 * staff's assignment this usually only confirms the reservation made before ordering recorded it, decision 0084).
 * An assignment by staff wins over the dispatch's (ordering refuses the dispatch's notice once staff
 * chose, decision 0042): a dispatch courier it replaces is released ({@link releaseCourier}, reason
 * `reassigned`), and a job still queued or dead-lettered is settled. A courier busy with another order
 * stays busy with it and takes this one on its release. A courier who was offline, or whom delivery
 * never saw (no availability row: they get one in `city`, the restaurant's), is offline again when
 * their orders end (`released_status`): only a courier who said they were available goes back to it.
 *
 * Idempotent and safe against reordering: the same courier again only confirms; an order delivered or
 * cancelled is left alone (an order with no row yet gets one, `city` being its restaurant's); an
 * assignment older than the one applied is ignored. Older means a lower `assignment` (ordering numbers
 * an order's assignments from its stream), or, where the event or the applied row has no number (both
 * recorded before it existed), an earlier message id (UUID v7, ordered by the creating process's
 * clock). Only numbers ordering recorded count (`courier_assignment`): a reservation's number, which
 * ordering may never append, is kept apart (`reserved_assignment`). An event older than the row's
 * reservation still awaiting its notice is ordering's state before that reservation's append: it is
 * applied, and the reservation becomes a hold of its courier for the rest of its lease
 * ({@link holdCourier}, as a reservation that finds the order holding another courier), which the
 * reservation's own event, if its append committed, swaps in and ends. Run as the system actor.
 *
 * With `unconfirmedForMs` it is a reservation (`reserveCourier`: staff's assignment, before ordering
 * appends it, `messageId` null): the same, except that the order's row awaits ordering's
 * CourierAssigned (`notified_at` null) for that long, as a dispatch assignment awaits its notice, and
 * that an order holding another courier is left as it is and the courier is only held off the
 * dispatch (`held`, {@link holdCourier}: the event makes the swap and ends the hold). A reservation of
 * the courier the row already holds under an unconfirmed reservation (staff assigning again after a
 * refused command) starts the lease again and takes the newer number. A reservation of the courier the
 * row holds otherwise (confirmed, or the dispatch's own assignment awaiting its notice) with a number
 * above the one ordering last recorded here means ordering has recorded another courier since, whose
 * event is still on its way (ordering reserves only a courier the order does not have): the row is
 * left as it is and the courier is held for the order (`held`), so that event releases them to no
 * other order and their own event, putting them back on the order, ends the hold. A reservation of a
 * courier who carries another order and asked themself to stop after it (`released_status` offline and
 * `asked_to_stop`, set by their route) is refused ({@link CourierStoppingError}); ordering's event is
 * never refused (the assignment is recorded).
 */
export async function recordCourierAssigned(
  tx: Tx,
  input: { tenantId: string; orderId: string; courierId: string; messageId: string | null; assignment: number | null; city: string; unconfirmedForMs?: number },
): Promise<CourierAssignedOutcome> {
  const reservation = input.unconfirmedForMs !== undefined;
  // The row may not exist yet (assigned before OrderReady queued it): one that OrderReady finds later is left as it is.
  const added = await tx.query(
    `insert into delivery.dispatch_queue (tenant_id, order_id, city) values ($1, $2, $3)
     on conflict (tenant_id, order_id) do nothing`,
    [input.tenantId, input.orderId, input.city],
  );
  // newer: an assignment ordering recorded after this one was applied (courier_assignment holds only
  // recorded numbers). pending: the row holds a reservation still awaiting its notice; supersedes: its
  // number is above this event's, so ordering recorded this event's courier before deciding it.
  // recorded_before: this assignment's number is above the last one ordering recorded here (or none
  // is known), so ordering recorded it after what the row shows.
  const { rows } = await tx.query<{ state: string; courier_id: string | null; newer: boolean; recorded_before: boolean; pending: boolean; supersedes: boolean; lease_left_ms: number }>(
    `select state, courier_id,
            case when courier_assignment is not null and $4::int is not null then courier_assignment > $4::int
                 else coalesce(courier_message_id > $3, false) end as newer,
            coalesce(courier_assignment < $4::int, $4::int is not null) as recorded_before,
            coalesce(state = 'assigned' and notified_at is null and reserved_from is not null, false) as pending,
            coalesce(state = 'assigned' and notified_at is null and reserved_from is not null and reserved_assignment > $4::int, false) as supersedes,
            greatest(extract(epoch from next_attempt_at - now()) * 1000, 0)::float8 as lease_left_ms
       from delivery.dispatch_queue where tenant_id = $1 and order_id = $2 for update`,
    [input.tenantId, input.orderId, input.messageId, input.assignment],
  );
  const row = rows[0]!;
  // Ordering's event for this order and courier, applied or not, ends a hold staff's reservation put on the courier.
  const ended = reservation ? null : () => clearCourierHold(tx, input);
  if (row.state === 'delivered' || row.state === 'cancelled' || row.newer) {
    await ended?.();
    return 'ignored';
  }
  // Staff giving an order to a courier who asked to stop after the one they carry (they pressed Stop
  // while on it; their page says they stop after it) is refused, and the command with it: they would
  // have been handed this order after all (found by a review). A courier staff gave an order while
  // offline (released_status offline, asked_to_stop false) may still be given another (0042). Their row is
  // locked after the order's, as everywhere, so a Stop committing meanwhile is seen. An order that
  // already holds them gives them nothing new.
  if (reservation && !(row.state === 'assigned' && row.courier_id === input.courierId)) {
    const { rows: courier } = await tx.query<{ stopping: boolean; current_order_id: string | null }>(
      `select status = 'busy' and released_status = 'offline' and asked_to_stop
              and (current_tenant_id, current_order_id) is distinct from ($2::uuid, $3::uuid) as stopping,
              current_order_id
         from delivery.courier_availability where courier_id = $1 for update`,
      [input.courierId, input.tenantId, input.orderId],
    );
    if (courier[0]?.stopping === true) throw new CourierStoppingError(input.courierId, courier[0].current_order_id);
  }
  // An event older than the row's unconfirmed reservation: the reservation's append may still commit,
  // and its event then give the order to the reserved courier; until then they are held, not freed
  // (applied as it was, this event was ignored against the reservation's never-appended number, and
  // once the reservation was undone ordering's courier was free for a second order; found by review).
  const superseded = !reservation && row.supersedes && row.courier_id !== null ? row.courier_id : null;
  const holdReserved = async () => {
    if (superseded !== null) await holdCourier(tx, { tenantId: input.tenantId, orderId: input.orderId, courierId: superseded, city: input.city, leaseMs: row.lease_left_ms });
  };
  if (row.state === 'assigned' && row.courier_id === input.courierId) {
    if (input.unconfirmedForMs !== undefined) {
      // Staff assign again the courier whose reservation awaits its notice (their first command was
      // refused, a 412): the lease starts again, or the sweep could undo the reservation between this
      // and the append; the number is the one this append will carry. Else ordering's event confirms it.
      if (row.pending) {
        await tx.query(
          `update delivery.dispatch_queue
              set next_attempt_at = now() + make_interval(secs => $3::double precision / 1000), notify_attempts = 0,
                  reserved_assignment = greatest(reserved_assignment, $4::int)
            where tenant_id = $1 and order_id = $2`,
          [input.tenantId, input.orderId, input.unconfirmedForMs, input.assignment],
        );
        return 'confirmed';
      }
      // The row holds this courier, confirmed (or as the dispatch's assignment awaiting its notice), yet
      // ordering reserves them again: it reserves only a courier the order does not have (its decide
      // appends nothing for the same courier), so it has recorded another courier since, whose
      // CourierAssigned has not reached delivery. That event will replace this courier and release
      // them; their own event (this reservation's) then puts them back. In between they must not be
      // dispatched: held for the order until their event ends the hold (found by review: staff moved X
      // from C to D and back to C; D's event freed C, the dispatch gave C order Y, then C's event gave
      // C order X as well). The row is left as it is: this append may still fail.
      if (row.recorded_before) {
        await holdCourier(tx, { tenantId: input.tenantId, orderId: input.orderId, courierId: input.courierId, city: input.city, leaseMs: input.unconfirmedForMs });
        return 'held';
      }
      return 'confirmed';
    }
    await ended?.();
    await holdReserved();
    await tx.query(
      `update delivery.dispatch_queue set notified_at = coalesce(notified_at, now()), last_error = null, courier_message_id = $3,
              courier_assignment = coalesce($4::int, courier_assignment), reserved_from = null, reserved_assignment = null
        where tenant_id = $1 and order_id = $2`,
      [input.tenantId, input.orderId, input.messageId, input.assignment],
    );
    return 'confirmed';
  }
  const replaced = row.state === 'assigned' && row.courier_id !== null ? row.courier_id : null;
  // A reservation never replaces the order's courier: ordering's append may still fail after it (a 412,
  // a crash), and nothing would give the replaced courier their order back; they were released while
  // still carrying it (found by a review). The event, once ordering has recorded the assignment, swaps them.
  // Meanwhile the chosen courier is held off the dispatch, whose claim could otherwise give them another
  // order before that event arrives (found by a later review: they then held two).
  if (input.unconfirmedForMs !== undefined && replaced !== null) {
    await holdCourier(tx, { tenantId: input.tenantId, orderId: input.orderId, courierId: input.courierId, city: input.city, leaseMs: input.unconfirmedForMs });
    return 'held';
  }
  if (replaced !== null) {
    // Both couriers' rows, in id order, before either changes: staff swapping two couriers between two
    // orders at once each locked their chosen courier, then waited for the one it replaces, which the
    // other held (a deadlock, one of the two aborted and redelivered).
    await tx.query(`select 1 from delivery.courier_availability where courier_id = any($1::uuid[]) order by courier_id for update`, [[input.courierId, replaced]]);
  }
  // Staff's courier is locked (and made busy) before the courier they replace is released: the
  // release takes the city lock, and a delivery of this courier's other order (finishOrder) holds
  // this courier's row when it asks for the city lock; the other way round the two deadlocked.
  // released_status keeps what the courier was (a.status is the row before this update); one who is
  // busy keeps theirs, from before their first order.
  await tx.query(
    `insert into delivery.courier_availability as a (courier_id, city, status, current_tenant_id, current_order_id, current_since, released_status)
     values ($1, $2, 'busy', $3, $4, now(), 'offline')
     on conflict (courier_id) do update
        set status = 'busy', current_tenant_id = excluded.current_tenant_id, current_order_id = excluded.current_order_id, current_since = now(), updated_at = now(),
            released_status = a.status, asked_to_stop = false
      where a.status <> 'busy'`,
    [input.courierId, input.city, input.tenantId, input.orderId],
  );
  await ended?.();
  await holdReserved();
  if (replaced !== null) await releaseCourier(tx, { tenantId: input.tenantId, orderId: input.orderId, courierId: replaced, reason: 'reassigned' });
  // A reservation awaits ordering's CourierAssigned (notified_at null) until the lease's end; then the
  // dispatch's notice sweep asks ordering which courier the order has, and undoes the reservation
  // (undoReservation) unless it is this one. reserved_from keeps what the row was, for the undo; the
  // reservation's number waits in reserved_assignment until ordering confirms it.
  const reservedFrom = reservation ? ((added.rowCount ?? 0) > 0 ? 'new' : row.state) : null;
  await tx.query(
    `update delivery.dispatch_queue
        set state = 'assigned', courier_id = $3, assigned_at = now(), finished_at = null, last_error = null,
            courier_message_id = coalesce($4, courier_message_id),
            courier_assignment = case when $6::double precision is null then $5::int else courier_assignment end,
            reserved_assignment = case when $6::double precision is null then null else $5::int end,
            notified_at = case when $6::double precision is null then now() end,
            next_attempt_at = case when $6::double precision is null then next_attempt_at
                                   else now() + make_interval(secs => $6::double precision / 1000) end,
            notify_attempts = case when $6::double precision is null then notify_attempts else 0 end,
            reserved_from = $7
      where tenant_id = $1 and order_id = $2`,
    [input.tenantId, input.orderId, input.courierId, input.messageId, input.assignment, input.unconfirmedForMs ?? null, reservedFrom],
  );
  await tx.query(
    `insert into delivery.assignments (tenant_id, order_id, courier_id) values ($1, $2, $3)
     on conflict (tenant_id, order_id, courier_id) do update set assigned_at = now(), released_at = null, release_reason = null`,
    [input.tenantId, input.orderId, input.courierId],
  );
  return 'assigned';
}
