import type { Tx } from '../../../platform/db/index.ts';
import { CourierBusyError } from '../errors.ts';
import { freeForDispatch, HELD } from './freeForDispatch.ts';

/** A courier's availability as the routes show it. */
export interface Availability {
  readonly courierId: string;
  readonly city: string;
  readonly status: 'available' | 'busy' | 'offline';
  /** When the courier last became available (the dispatch order: longest wait first). */
  readonly availableSince: string;
  readonly currentOrderId: string | null;
}

const COLUMNS = `courier_id as "courierId", city, status, available_since as "availableSince", current_order_id as "currentOrderId"`;

/** The courier's availability row, or null when they never said they were available. */
export async function getAvailability(tx: Tx, courierId: string): Promise<Availability | null> {
  const { rows } = await tx.query<Availability>(`select ${COLUMNS} from delivery.courier_availability where courier_id = $1`, [courierId]);
  return rows[0] ?? null;
}

/** What {@link setAvailability} did. */
export interface AvailabilityChange {
  /** The courier's availability after the change, as the routes show it. */
  readonly availability: Availability;
  /**
   * Whether this change made the courier free for the dispatch in their city: free now
   * (`freeForDispatch`: available, not held for a staff reassignment, see `holdCourier`), and not
   * available in that city before. Only then may the caller wake a waiting order of the city (`wakeOneInCity`): a
   * wake the claim cannot serve spends an attempt of that order (`deferDispatch` counts it).
   */
  readonly becameFree: boolean;
}

/**
 * Marks a courier available (in `city`) or offline. Becoming available again keeps the original
 * `available_since` (no queue jumping by toggling); coming back from offline starts the wait now.
 * Runs as the courier: the policy lets them write only their own row and never make themselves busy.
 *
 * @throws {CourierBusyError} (422 `COURIER_BUSY`) the courier is carrying an order.
 */
export async function setAvailability(tx: Tx, input: { courierId: string; city: string; available: boolean }): Promise<AvailabilityChange> {
  const current = await tx.query<{ status: string; city: string; current_order_id: string | null }>(
    `select status, city, current_order_id from delivery.courier_availability where courier_id = $1 for update`,
    [input.courierId],
  );
  const row = current.rows[0];
  if (row?.status === 'busy') throw new CourierBusyError(input.courierId, String(row.current_order_id));
  const status = input.available ? 'available' : 'offline';
  // With no row to lock above, staff's reservation (or ordering's CourierAssigned) may insert the
  // courier's row as busy before this insert: the conflict update then skips it (`a.status <> 'busy'`)
  // instead of trying to make a busy row available, which the courier policy refused (42501, a 500).
  // `held` is read from the row written, so a hold inserted by staff after the select above is seen.
  const { rows } = await tx.query<Availability & { held: boolean }>(
    `insert into delivery.courier_availability as a (courier_id, city, status, available_since)
     values ($1, $2, $3, now())
     on conflict (courier_id) do update
        set city = excluded.city, status = excluded.status, updated_at = now(),
            available_since = case when a.status = 'available' and excluded.status = 'available' and a.city = excluded.city
                                   then a.available_since else now() end
      where a.status <> 'busy'
     returning ${COLUMNS}, ${HELD} as held`,
    [input.courierId, input.city, status],
  );
  const written = rows[0];
  if (written !== undefined) {
    const { held, ...availability } = written;
    const wasFree = row?.status === 'available' && row.city === availability.city;
    return { availability, becameFree: freeForDispatch({ status: availability.status, held }) && !wasFree };
  }
  const busy = await getAvailability(tx, input.courierId);
  throw new CourierBusyError(input.courierId, String(busy?.currentOrderId));
}
