import type { Tx } from '../../../platform/db/index.ts';
import type { CommandCause } from '../ports.ts';
import { announceDispatch } from './dispatchWork.ts';

/**
 * Puts an order in the dispatch queue of its restaurant's city (due now; an idle dispatch worker of
 * this process is woken after commit). Idempotent: an order already queued, assigned or finished is
 * left as it is, except a row `dropped` without a courier (a staff reservation undone before the order
 * was queued, see `undoReservation`), which is queued now. Returns whether a row was added. `cause`: the order event that queued it (see
 * `causeOfMessage`), kept on the row for the assignment and a dead letter to carry on.
 */
export async function enqueueOrder(tx: Tx, input: { tenantId: string; orderId: string; city: string; readyAt?: Date; cause?: CommandCause }): Promise<boolean> {
  const cause = input.cause ?? {};
  const { rowCount } = await tx.query(
    `insert into delivery.dispatch_queue (tenant_id, order_id, city, ready_at, next_attempt_at, causation_id, correlation_id, traceparent)
     values ($1, $2, $3, coalesce($4::timestamptz, now()), now(), $5, $6, $7)
     on conflict (tenant_id, order_id) do update
        set state = 'queued', ready_at = excluded.ready_at, next_attempt_at = now(), finished_at = null, last_error = null,
            causation_id = excluded.causation_id, correlation_id = excluded.correlation_id, traceparent = excluded.traceparent
      where dispatch_queue.state = 'dropped' and dispatch_queue.courier_id is null`,
    [input.tenantId, input.orderId, input.city, input.readyAt?.toISOString() ?? null, cause.causationId ?? null, cause.correlationId ?? null, cause.traceparent ?? null],
  );
  const added = (rowCount ?? 0) > 0;
  if (added) announceDispatch(tx);
  return added;
}
