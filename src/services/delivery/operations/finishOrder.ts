import type { Tx } from '../../../platform/db/index.ts';
import { releaseCourier } from './releaseCourier.ts';

/** How an order left dispatch: ordering's OrderDelivered / OrderCancelled, or the dispatch itself gave the assignment up. */
export type FinishReason = 'delivered' | 'cancelled' | 'dropped';

/**
 * Ends an order's dispatch and frees its courier (the dispatch's or the one staff chose): the queue
 * row goes to `reason` (unless already delivered or cancelled), the courier is released
 * ({@link releaseCourier}: available again, waking one backing-off order of their city, unless still
 * busy with this order). With `courierId` (the dispatch dropping its own assignment) only while the
 * order is still assigned to that courier: staff may have chosen another meanwhile. An order delivery
 * has no row for (it ended before it was queued) gets a finished row, so a late CourierAssigned finds
 * it over. With `pickedUpBy` (an order cancelled after its pick-up: lost in transit, decision 0088),
 * that courier, when they are the order's, is released offline rather than available: they vanished
 * with the order, and the dispatch must not hand them another one until they say they are back.
 * Idempotent: a second call finds nothing to change. Returns the courier made available, or null. Run
 * as the system actor.
 */
export async function finishOrder(tx: Tx, input: { tenantId: string; orderId: string; reason: FinishReason; courierId?: string; pickedUpBy?: string }): Promise<string | null> {
  const { rows } = await tx.query<{ courier_id: string | null }>(
    `update delivery.dispatch_queue set state = $3, finished_at = now()
      where tenant_id = $1 and order_id = $2 and state in ('queued', 'assigned', 'dead', 'dropped') and state <> $3
        and ($4::uuid is null or (courier_id = $4 and state = 'assigned'))
      returning courier_id`,
    [input.tenantId, input.orderId, input.reason, input.courierId ?? null],
  );
  const row = rows[0];
  if (row === undefined && input.reason !== 'dropped') {
    await tx.query(
      `insert into delivery.dispatch_queue (tenant_id, order_id, city, state, finished_at) values ($1, $2, null, $3, now())
       on conflict (tenant_id, order_id) do nothing`,
      [input.tenantId, input.orderId, input.reason],
    );
  }
  if (row === undefined || row.courier_id === null) return null;
  const gone = input.pickedUpBy !== undefined && input.pickedUpBy === row.courier_id;
  const freed = await releaseCourier(tx, { tenantId: input.tenantId, orderId: input.orderId, courierId: row.courier_id, reason: input.reason, ...(gone ? { offline: true } : {}) });
  return freed ? row.courier_id : null;
}
