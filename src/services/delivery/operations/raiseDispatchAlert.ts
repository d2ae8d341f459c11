import type { Tx } from '../../../platform/db/index.ts';
import { writeToOutbox } from '../../../platform/outbox/index.ts';
import type { CommandCause } from '../ports.ts';

/**
 * Dead-letters an order for a person to act on: an alert row in `delivery.dispatch_alerts` and
 * `delivery.dispatch.DispatchFailed` in the outbox (ordering records it on the order and the
 * live-board shows it, decision 0053), committing with the caller's change of the queue row to `dead`.
 * `reason` is what the restaurant reads: it says what went wrong and what to do. `cause` (the order
 * event that queued the order) gives the message its causation, correlation and traceparent headers.
 */
export async function raiseDispatchAlert(tx: Tx, input: { tenantId: string; orderId: string; city: string; attempts: number; reason: string; cause?: CommandCause }): Promise<void> {
  const cause = input.cause ?? {};
  const alert = await tx.query<{ id: string; raised_at: Date }>(
    `insert into delivery.dispatch_alerts (tenant_id, order_id, city, attempts, reason) values ($1, $2, $3, $4, $5) returning id, raised_at`,
    [input.tenantId, input.orderId, input.city, input.attempts, input.reason],
  );
  const row = alert.rows[0]!;
  await writeToOutbox(tx, [
    {
      subject: 'delivery.dispatch.DispatchFailed',
      key: input.orderId,
      headers: {
        tenant: input.tenantId,
        ...(cause.causationId === undefined ? {} : { causation: cause.causationId }),
        ...(cause.correlationId === undefined ? {} : { correlation: cause.correlationId }),
        ...(cause.traceparent === undefined ? {} : { traceparent: cause.traceparent }),
      },
      payload: { alertId: row.id, orderId: input.orderId, restaurantId: input.tenantId, city: input.city, attempts: input.attempts, reason: input.reason, failedAt: row.raised_at.toISOString() },
    },
  ]);
}
