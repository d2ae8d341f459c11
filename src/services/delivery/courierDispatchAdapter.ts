import type { Actor } from '../../platform/db/index.ts';
import { BrigadeError } from '../../platform/errors/index.ts';
import type { UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { assignmentsOfCourier } from './operations/assignmentsOfCourier.ts';
import { setAvailability, type Availability } from './operations/availability.ts';
import { TOKENS_REVOKED_REASON } from './operations/recordCourierUnassigned.ts';
import type { CourierDirectory, OrderCommands } from './ports.ts';

/** Taking a courier off dispatch is an admin's act (the route, or a revocation of the courier's tokens); delivery's policies let admins read only, so the write runs as this system actor after that check. */
const SYSTEM: Actor = { kind: 'system', id: 'delivery-off-dispatch' };

/**
 * Takes couriers off dispatch for an admin: `POST /v1/couriers/:courierId/availability` with
 * `available: false`, and the platform's revocation of a courier's tokens through its port (decision
 * 0007, "Fixed later (forty-seventh session, 7 Dec 2026)"), which also hands the orders the courier
 * has not picked up back to dispatch (`handBackOrders`, with `orders`, delivery's port to ordering:
 * decision 0040, "Fixed later (forty-ninth session, 7 Dec 2026)"). The caller has checked that an
 * admin asks.
 *
 * @example
 * createPlatformService((deps) => ({ …, dispatch: courierDispatch({ unitOfWork: deps.unitOfWork, couriers: courierDirectory(deps.unitOfWork), orders: orderCommands(deps, 'delivery-dispatch') }) }))
 */
export function courierDispatch(deps: { readonly unitOfWork: UnitOfWorkFn; readonly couriers: Pick<CourierDirectory, 'courier'>; readonly orders: Pick<OrderCommands, 'unassignCourier'> }) {
  return {
    /**
     * What the courier's own "Stop" does, with the same statement (`setAvailability` with `available:
     * false`, in the courier's city as the directory has it): an idle courier is offline now; one who
     * carries an order stays busy, becomes offline when it ends and has asked to stop
     * (`released_status` offline, `asked_to_stop`), so staff's picker leaves them out and staff's
     * assign-courier refuses them (422 `COURIER_STOPPING`). A courier delivery never saw gets an
     * offline row. The courier may come back by pressing "Start taking deliveries", if their token still
     * works. Null when the directory does not know the courier (nothing is written).
     */
    async takeOffDispatch(courierId: string): Promise<Availability | null> {
      // The city is asked before the transaction (the directory runs its own): no connection held while waiting for another.
      const courier = await deps.couriers.courier(courierId);
      if (courier === null) return null;
      const { availability } = await deps.unitOfWork({ service: 'delivery', actor: SYSTEM }, (tx) => setAvailability(tx, { courierId: courier.id, city: courier.city, available: false }));
      return availability;
    },
    /**
     * Hands the orders assigned to the courier that they have not picked up back to dispatch at once,
     * by the pick-up deadline's own path (decision 0040): ordering's `unassign-courier` for each
     * assignment ordering numbered ({@link assignmentsOfCourier}), with the reason
     * {@link TOKENS_REVOKED_REASON}; its CourierUnassigned, applied by the order-events consumer,
     * queues the order again and releases the courier (offline, no notice of a missed pick-up). For
     * a courier whose tokens were revoked: they can no longer pick an order up, and it used to wait
     * for the deadline. Ordering refuses a picked-up order (422), which stays theirs (they carry the
     * food), and one that is over (404/422): those are left out. An assignment ordering has not
     * confirmed yet is not seen: its deadline hands it back. Idempotent: a courier taken off already
     * appends nothing. Answers the orders handed back.
     *
     * @throws the error of the first command that failed otherwise (the orders before it were handed
     *   back; calling again hands back the rest).
     */
    async handBackOrders(courierId: string): Promise<{ readonly handedBack: readonly string[] }> {
      const assignments = await deps.unitOfWork({ service: 'delivery', actor: SYSTEM }, (tx) => assignmentsOfCourier(tx, courierId));
      const handedBack: string[] = [];
      for (const { tenantId, orderId, assignment, cause } of assignments) {
        try {
          const unassigned = await deps.orders.unassignCourier({ restaurantId: tenantId, orderId, courierId, assignment, reason: TOKENS_REVOKED_REASON }, cause);
          if (unassigned) handedBack.push(orderId);
        } catch (error) {
          // Picked up (theirs: they carry the food) or over: it stays as it is.
          if (!(error instanceof BrigadeError && (error.status === 404 || error.status === 422))) throw error;
        }
      }
      return { handedBack };
    },
  };
}
