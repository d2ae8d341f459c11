import type { Tx } from '../../../platform/db/index.ts';

/** An order's end that payments took before the order's saga started (see {@link findOrderEndedBeforeStart}). */
export interface OrderEndedBeforeStart {
  /** The order event that ended it. */
  readonly event: 'OrderCancelled' | 'OrderRejected';
  /** When payments took that event (ISO-8601). */
  readonly at: string;
}

/**
 * For an `OrderPlaced` about to start the order's saga: the end of the order that payments took
 * before (an `OrderCancelled` or `OrderRejected` it could give to no saga), or `null`. Waits for the
 * order's start lock first (`payments.order_ended_before_start`, migration 0020), which
 * {@link rememberOrderEnded}'s caller holds while it looks for the saga and writes the end: an end
 * written meanwhile is seen, and an end written later finds this transaction's saga. One round trip,
 * in the caller's transaction (the message's tenant).
 */
export async function findOrderEndedBeforeStart(tx: Tx, tenantId: string, orderId: string): Promise<OrderEndedBeforeStart | null> {
  const { rows } = await tx.query<{ ended: { event: OrderEndedBeforeStart['event']; at: string } | null }>(`select payments.order_ended_before_start($1, $2) as ended`, [tenantId, orderId]);
  const ended = rows[0]?.ended ?? null;
  return ended === null ? null : { event: ended.event, at: new Date(ended.at).toISOString() };
}
