import type { Tx } from '../../../platform/db/index.ts';

/**
 * Holds `courierId` off the dispatch for the order staff are assigning them to, without touching the
 * order's row: for a reservation ({@link reserveCourier}) of an order that holds another courier, which
 * ordering's CourierAssigned, once applied, swaps ({@link recordCourierAssigned}). Until then the
 * dispatch's claim and its re-check of the city skip the courier (`HELD`: `held_until` set); the
 * event for this order clears the hold. After `leaseMs` (`held_until`) the dispatch's sweep asks
 * ordering which courier the order has (`claimDueHold`): this one, and the hold stands another lease
 * (the event is late); another or none (ordering's append failed), and it ends. A courier delivery
 * never saw gets a row, offline, in `city`. A later hold of the same courier replaces this one (the
 * courier stays held; an earlier order's event then leaves it).
 *
 * The courier's row is written, so locked, as the claim locks it: whichever commits first wins, and a
 * claim that locks the row after this commit re-checks `held_until` on the new version. Lock order:
 * the order's queue row (the caller's), then the courier's row. Run as the system actor.
 */
export async function holdCourier(tx: Tx, input: { tenantId: string; orderId: string; courierId: string; city: string; leaseMs: number }): Promise<void> {
  await tx.query(
    `insert into delivery.courier_availability as a (courier_id, city, status, held_until, held_tenant_id, held_order_id)
     values ($1, $2, 'offline', now() + make_interval(secs => $5::double precision / 1000), $3, $4)
     on conflict (courier_id) do update
        set held_until = excluded.held_until, held_tenant_id = excluded.held_tenant_id, held_order_id = excluded.held_order_id, updated_at = now()`,
    [input.courierId, input.city, input.tenantId, input.orderId, input.leaseMs],
  );
}
