import type { Tx } from '../../../platform/db/index.ts';
import type { CommandCause } from '../ports.ts';
import { announceDispatch } from './dispatchWork.ts';

/**
 * Puts an order in the dispatch queue of its restaurant's city (due now; an idle dispatch worker of
 * this process is woken after commit). Idempotent: an order already queued, assigned or finished is
 * left as it is, except
 * - a row `dropped` without a courier (a staff reservation undone before the order was queued, see
 *   `undoReservation`), which is queued now;
 * - a row a staff reservation added or took from `dropped` and that still awaits ordering's
 *   CourierAssigned (`reserved_from` 'new' or 'dropped', `notified_at` null): it stays assigned, and
 *   is marked as queued (`reserved_from` 'queued', with `ready_at` and `cause`), so that undoing the
 *   reservation, if ordering never recorded it, queues the order instead of dropping it. Before, this
 *   call did nothing to such a row: the order event was used up, and the undo left the order dropped,
 *   never dispatched (found by review).
 *
 * Returns whether the order is queued now (a row added, or a dropped one queued). `cause`: the order
 * event that queued it (see `causeOfMessage`), kept on the row for the assignment and a dead letter to carry on.
 */
export async function enqueueOrder(tx: Tx, input: { tenantId: string; orderId: string; city: string; readyAt?: Date; cause?: CommandCause }): Promise<boolean> {
  const cause = input.cause ?? {};
  // One statement for the three cases (insert, queue a dropped row, mark a reservation's row): the
  // conflict update locks the row, so a reservation being settled at the same time is either seen
  // here (and its undo then finds 'queued') or settled first (and its undo left a dropped row).
  const { rows } = await tx.query<{ state: string }>(
    `insert into delivery.dispatch_queue (tenant_id, order_id, city, ready_at, next_attempt_at, causation_id, correlation_id, traceparent)
     values ($1, $2, $3, coalesce($4::timestamptz, now()), now(), $5, $6, $7)
     on conflict (tenant_id, order_id) do update
        set state = case when dispatch_queue.state = 'dropped' then 'queued' else dispatch_queue.state end,
            next_attempt_at = case when dispatch_queue.state = 'dropped' then now() else dispatch_queue.next_attempt_at end,
            finished_at = case when dispatch_queue.state = 'dropped' then null else dispatch_queue.finished_at end,
            last_error = case when dispatch_queue.state = 'dropped' then null else dispatch_queue.last_error end,
            reserved_from = case when dispatch_queue.state = 'assigned' then 'queued' else dispatch_queue.reserved_from end,
            ready_at = excluded.ready_at, causation_id = excluded.causation_id, correlation_id = excluded.correlation_id, traceparent = excluded.traceparent
      where (dispatch_queue.state = 'dropped' and dispatch_queue.courier_id is null)
         or (dispatch_queue.state = 'assigned' and dispatch_queue.notified_at is null and dispatch_queue.reserved_from in ('new', 'dropped'))
     returning state`,
    [input.tenantId, input.orderId, input.city, input.readyAt?.toISOString() ?? null, cause.causationId ?? null, cause.correlationId ?? null, cause.traceparent ?? null],
  );
  const queued = rows[0]?.state === 'queued';
  if (queued) announceDispatch(tx);
  return queued;
}
