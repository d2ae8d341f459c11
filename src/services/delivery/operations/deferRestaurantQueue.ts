import type { Tx } from '../../../platform/db/index.ts';

/**
 * Puts the restaurant's queued orders off for `delayMs` (those due sooner), spending no attempt of
 * theirs: called in the transaction that records a failed notice to ordering of one of its orders.
 * While ordering cannot be told about the restaurant's orders (its own database not answering,
 * decision 0008), each claim of another of them would only take a courier of its city for an
 * assignment that cannot be confirmed, and a step of a shared worker for a call that fails. The orders
 * wait as long as the failed notice does: the notice's retry is what finds ordering back. They also
 * move behind every order that was due before the failure, since claims take the earliest due first,
 * so they never hold up other restaurants' orders.
 *
 * Rows another transaction holds (a claim, the order-events consumer) are skipped, not waited for:
 * this is a hint to the claim's order, and two failed notices of one restaurant at once must not
 * deadlock over its queue. Returns how many orders were put off. Run as the system actor.
 */
export async function deferRestaurantQueue(tx: Tx, input: { tenantId: string; delayMs: number }): Promise<number> {
  const { rowCount } = await tx.query(
    `with due as (
       select tenant_id, order_id from delivery.dispatch_queue
        where tenant_id = $1 and state = 'queued' and next_attempt_at < now() + make_interval(secs => $2::double precision / 1000)
        for update skip locked
     )
     update delivery.dispatch_queue q set next_attempt_at = now() + make_interval(secs => $2::double precision / 1000)
       from due where q.tenant_id = due.tenant_id and q.order_id = due.order_id`,
    [input.tenantId, input.delayMs],
  );
  return rowCount ?? 0;
}
