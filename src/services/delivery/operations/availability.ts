import type { Tx } from '../../../platform/db/index.ts';
import { freeForDispatch, HELD } from './freeForDispatch.ts';

/** A courier's availability as the routes show it. */
export interface Availability {
  readonly courierId: string;
  readonly city: string;
  readonly status: 'available' | 'busy' | 'offline';
  /**
   * Since when an available courier has waited (the dispatch order: longest wait first); null unless
   * `status` is available, as staff's picker shows it. The column keeps the time of the last change
   * for every status (going offline stamps it), which read as "available since" the time they left.
   */
  readonly availableSince: string | null;
  readonly currentOrderId: string | null;
  /**
   * What a busy courier becomes when the order they carry ends (and any other order staff gave them
   * with it): `available`, or `offline` when they asked to stop meanwhile (or staff gave them the order
   * while they were offline). The row's `released_status` (decision 0042). Null when not busy.
   */
  readonly afterCurrentOrder: 'available' | 'offline' | null;
  /**
   * Why the courier is off dispatch when they did not choose it: an order was taken off them because
   * they had not picked it up in time (the pick-up deadline, decision 0040), said in words for the
   * courier's page, until they press "Start taking deliveries". Null otherwise.
   */
  readonly notice: string | null;
}

/** An availability row as selected by {@link COLUMNS}, before {@link withNotice}. */
type AvailabilityRow = Omit<Availability, 'notice'> & { missedOrderId: string | null; missedWithinMinutes: number | null };

const COLUMNS = `courier_id as "courierId", city, status, case when status = 'available' then available_since end as "availableSince", current_order_id as "currentOrderId",
  case when status = 'busy' then released_status end as "afterCurrentOrder",
  missed_order_id as "missedOrderId", ceil(extract(epoch from missed_within) / 60)::int as "missedWithinMinutes"`;

/**
 * The row as the routes show it, with the notice of a missed pick-up in words.
 *
 * @example
 * withNotice({ ...row, missedOrderId: id, missedWithinMinutes: 15 }).notice // "Order … was taken off you: …"
 */
export function withNotice(row: AvailabilityRow): Availability {
  const { missedOrderId, missedWithinMinutes, ...availability } = row;
  if (missedOrderId === null) return { ...availability, notice: null };
  const within = missedWithinMinutes === null ? 'in time' : `within ${missedWithinMinutes} minute${missedWithinMinutes === 1 ? '' : 's'} of it being ready and assigned to you`;
  const now = availability.status === 'busy' ? 'You will stop taking deliveries after your current one' : 'You are off dispatch';
  return {
    ...availability,
    notice: `Order ${missedOrderId} was taken off you: it was not picked up ${within}, so it went to another courier. ${now}: press "Start taking deliveries" to take orders again.`,
  };
}

/** The courier's availability row, or null when they never said they were available. */
export async function getAvailability(tx: Tx, courierId: string): Promise<Availability | null> {
  const { rows } = await tx.query<AvailabilityRow>(`select ${COLUMNS} from delivery.courier_availability where courier_id = $1`, [courierId]);
  return rows[0] === undefined ? null : withNotice(rows[0]);
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
 * A courier carrying an order stays busy: what they asked for is what they become when it ends
 * (`released_status`, applied by `releaseCourier`), and the answer says so (`afterCurrentOrder`).
 * Delivery frees a courier only when ordering's OrderDelivered reaches it over the bus, so one who
 * has just delivered is still busy here for a moment; refusing them (422 "deliver it first") told
 * them to do what they had just done (decision 0040, "Fixed later").
 * Runs as the courier: the policy lets them write only their own row, never make themselves busy,
 * and of a busy row only `released_status` (delivery migration 0023). An admin's taking a courier off
 * dispatch (`courierDispatch`) runs the same statements with `available: false`, as a system actor.
 * Pressing Start (`available: true`) ends the notice of a missed pick-up (`notice`).
 */
export async function setAvailability(tx: Tx, input: { courierId: string; city: string; available: boolean }): Promise<AvailabilityChange> {
  const current = await tx.query<{ status: string; city: string }>(`select status, city from delivery.courier_availability where courier_id = $1 for update`, [input.courierId]);
  const row = current.rows[0];
  const status = input.available ? 'available' : 'offline';
  if (row?.status === 'busy') return { availability: await afterCurrentOrder(tx, input.courierId, status), becameFree: false };
  // With no row to lock above, staff's reservation (or ordering's CourierAssigned) may insert the
  // courier's row as busy before this insert: the conflict update then skips it (`a.status <> 'busy'`)
  // instead of trying to make a busy row available, which the courier policy refused (42501, a 500).
  // `held` is read from the row written, so a hold inserted by staff after the select above is seen.
  const { rows } = await tx.query<AvailabilityRow & { held: boolean }>(
    `insert into delivery.courier_availability as a (courier_id, city, status, available_since)
     values ($1, $2, $3, now())
     on conflict (courier_id) do update
        set city = excluded.city, status = excluded.status, updated_at = now(),
            available_since = case when a.status = 'available' and excluded.status = 'available' and a.city = excluded.city
                                   then a.available_since else now() end,
            missed_order_id = case when excluded.status = 'available' then null else a.missed_order_id end,
            missed_within = case when excluded.status = 'available' then null else a.missed_within end
      where a.status <> 'busy'
     returning ${COLUMNS}, ${HELD} as held`,
    [input.courierId, input.city, status],
  );
  const written = rows[0];
  if (written !== undefined) {
    const { held, ...columns } = written;
    const availability = withNotice(columns);
    const wasFree = row?.status === 'available' && row.city === availability.city;
    return { availability, becameFree: freeForDispatch({ status: availability.status, held }) && !wasFree };
  }
  // The row skipped is busy, and locked by the conflict: as with a row busy from the start.
  return { availability: await afterCurrentOrder(tx, input.courierId, status), becameFree: false };
}

/**
 * Keeps what a busy courier asked for until their last order ends (`releaseCourier` applies
 * `released_status`), and whether they asked to stop (`asked_to_stop`: staff's picker leaves them out
 * and staff's assign-courier refuses them, decision 0089). The caller holds the row's lock and saw it
 * busy, so the update finds it.
 */
async function afterCurrentOrder(tx: Tx, courierId: string, status: 'available' | 'offline'): Promise<Availability> {
  const { rows } = await tx.query<AvailabilityRow>(
    `update delivery.courier_availability set released_status = $2, asked_to_stop = ($2 = 'offline'), updated_at = now(),
            missed_order_id = case when $2 = 'available' then null else missed_order_id end,
            missed_within = case when $2 = 'available' then null else missed_within end
      where courier_id = $1 and status = 'busy'
      returning ${COLUMNS}`,
    [courierId, status],
  );
  return withNotice(rows[0]!);
}
