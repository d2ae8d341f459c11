import type { Actor } from '../../platform/db/index.ts';
import type { UnitOfWorkFn } from '../../platform/tenancy/index.ts';
import { setAvailability, type Availability } from './operations/availability.ts';
import type { CourierDirectory } from './ports.ts';

/** Taking a courier off dispatch is an admin's act (the route, or a revocation of the courier's tokens); delivery's policies let admins read only, so the write runs as this system actor after that check. */
const SYSTEM: Actor = { kind: 'system', id: 'delivery-off-dispatch' };

/**
 * Takes couriers off dispatch for an admin: `POST /v1/couriers/:courierId/availability` with
 * `available: false`, and the platform's revocation of a courier's tokens through its port (decision
 * 0007, "Fixed later (forty-seventh session, 7 Dec 2026)"). The caller has checked that an admin asks.
 *
 * @example
 * createPlatformService((deps) => ({ …, dispatch: courierDispatch({ unitOfWork: deps.unitOfWork, couriers: courierDirectory(deps.unitOfWork) }) }))
 */
export function courierDispatch(deps: { readonly unitOfWork: UnitOfWorkFn; readonly couriers: Pick<CourierDirectory, 'courier'> }) {
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
  };
}
