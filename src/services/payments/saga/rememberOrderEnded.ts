import type { Tx } from '../../../platform/db/index.ts';
import type { OrderEndedBeforeStart } from './findOrderEndedBeforeStart.ts';

/**
 * Takes the order's start lock until the caller's transaction ends: the lock an `OrderPlaced` waits
 * for before it reads the order's end ({@link findOrderEndedBeforeStart}). Take it before looking for
 * the saga a last time and writing the end with {@link rememberOrderEnded}, so that an `OrderPlaced`
 * handled at the same time either started its saga before (found, then) or reads the end after.
 */
export async function takeOrderStartLock(tx: Tx, orderId: string): Promise<void> {
  await tx.query(`select pg_advisory_xact_lock(hashtext('brigade.payments.order_start'), hashtext($1::uuid::text))`, [orderId]);
}

/**
 * Remembers that an order ended (`event`) before its saga started, in the caller's transaction (the
 * order-events consumer's, as it acks the event as ignored): the saga its `OrderPlaced` starts later
 * then ends at once without charging. The first end is kept (an order ends once).
 */
export async function rememberOrderEnded(tx: Tx, tenantId: string, orderId: string, event: OrderEndedBeforeStart['event']): Promise<void> {
  await tx.query(`insert into payments.orders_ended_before_start (tenant_id, order_id, event) values ($1, $2, $3) on conflict (tenant_id, order_id) do nothing`, [tenantId, orderId, event]);
}
