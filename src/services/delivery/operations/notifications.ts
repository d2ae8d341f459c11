import type { Tx } from '../../../platform/db/index.ts';
import type { CommandCause } from '../ports.ts';
import { causeOfRow, type CauseColumns } from './dispatchCause.ts';

/** An assignment ordering has not confirmed yet. */
export interface PendingNotification {
  readonly tenantId: string;
  readonly orderId: string;
  readonly courierId: string;
  /** Notices that failed so far (the backoff's retry number is one more). */
  readonly attempts: number;
  /** The order event that queued the order: the assignment's cause. */
  readonly cause: CommandCause;
  /**
   * A staff reservation (decision 0084), not the dispatch's own assignment: it is settled by asking
   * ordering which courier the order has, never by assigning it (staff may have been told it was refused).
   */
  readonly reservation: boolean;
}

/**
 * Claims one assignment whose ordering notification is due (its worker died between the commit and
 * the call, or the call failed) and leases it for `leaseMs`: the caller commits, calls ordering, then
 * {@link markNotified}. Competing workers skip a leased row. Run as the system actor.
 */
export async function claimPendingNotification(tx: Tx, leaseMs: number): Promise<PendingNotification | null> {
  const { rows } = await tx.query<{ tenant_id: string; order_id: string; courier_id: string; notify_attempts: number; reservation: boolean } & CauseColumns>(
    `update delivery.dispatch_queue q set next_attempt_at = now() + make_interval(secs => $1::double precision / 1000)
      where (q.tenant_id, q.order_id) = (
        select tenant_id, order_id from delivery.dispatch_queue
         where state = 'assigned' and notified_at is null and next_attempt_at <= now()
         order by next_attempt_at limit 1 for update skip locked)
      returning q.tenant_id, q.order_id, q.courier_id, q.notify_attempts, q.causation_id, q.correlation_id, q.traceparent,
                q.reserved_from is not null as reservation`,
    [leaseMs],
  );
  const row = rows[0];
  return row === undefined ? null : { tenantId: row.tenant_id, orderId: row.order_id, courierId: row.courier_id, attempts: row.notify_attempts, cause: causeOfRow(row), reservation: row.reservation };
}

/**
 * Records that ordering accepted the assignment, or has the reserved courier (only if the order still
 * has that courier); a reservation's number becomes the one ordering recorded.
 */
export async function markNotified(tx: Tx, input: { tenantId: string; orderId: string; courierId: string }): Promise<void> {
  await tx.query(
    `update delivery.dispatch_queue set notified_at = now(), last_error = null, reserved_from = null,
            courier_assignment = coalesce(reserved_assignment, courier_assignment), reserved_assignment = null
      where tenant_id = $1 and order_id = $2 and courier_id = $3 and state = 'assigned' and notified_at is null`,
    [input.tenantId, input.orderId, input.courierId],
  );
}

/**
 * Ordering could not be told (a transient failure): counts the failed notice and retries it after
 * `delayMs`. Returns the row's count of failed notices after this one, or null when the row no longer
 * awaits this courier's notice (settled meanwhile). The count is added in SQL, under the row's lock, so
 * two notices of one assignment running at once (the first outliving its lease while another worker
 * claimed the row) each get their own number and exactly one of them reaches a given limit.
 */
export async function postponeNotification(tx: Tx, input: { tenantId: string; orderId: string; courierId: string; delayMs: number; error: string }): Promise<number | null> {
  const { rows } = await tx.query<{ notify_attempts: number }>(
    `update delivery.dispatch_queue set next_attempt_at = now() + make_interval(secs => $4::double precision / 1000), last_error = $5,
            notify_attempts = notify_attempts + 1
      where tenant_id = $1 and order_id = $2 and courier_id = $3 and state = 'assigned' and notified_at is null
      returning notify_attempts`,
    [input.tenantId, input.orderId, input.courierId, input.delayMs, input.error.slice(0, 1000)],
  );
  return rows[0]?.notify_attempts ?? null;
}
