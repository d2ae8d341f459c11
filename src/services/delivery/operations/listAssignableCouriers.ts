import type { Tx } from '../../../platform/db/index.ts';
import { HELD } from './freeForDispatch.ts';

/** A courier staff may assign to an order of a restaurant in the courier's city. */
export interface AssignableCourier {
  readonly courierId: string;
  /**
   * `available`: waiting for an order; `busy`: carrying one, and would take the assigned order after
   * it (decision 0084). Offline couriers are not listed, nor busy ones who asked to stop after their
   * current order (`asked_to_stop`).
   */
  readonly status: 'available' | 'busy';
  /**
   * Whether staff's reassignment of another order holds the courier off the dispatch for now
   * (`HELD`, see `holdCourier`): assignable, but likely to be busy with that order.
   */
  readonly held: boolean;
  /**
   * When the hold is next settled (it ends then unless ordering has the courier on that order: then
   * it stands until ordering's event arrives), or null when not held. May be just past while the
   * dispatch's sweep has not reached it.
   */
  readonly heldUntil: string | null;
  /** Since when an available courier has waited (the dispatch's order: longest first); null when busy. */
  readonly availableSince: string | null;
}

/** What {@link listAssignableCouriers} read: at most `limit` couriers, and whether the city has more. */
export interface AssignableCouriers {
  readonly couriers: readonly AssignableCourier[];
  readonly more: boolean;
}

/**
 * The couriers of `city` staff may assign: available ones first, those not held before those held,
 * each longest waiting first (as the dispatch would pick them), then busy ones (who take the order
 * after their current one), longest busy first. Offline couriers are left out, and so are busy ones
 * who asked to stop after their current order (pressed Stop while on it: `released_status` offline
 * and `asked_to_stop`): the dispatch will offer them nothing, their page tells them they stop after it,
 * and staff's assign-courier refuses them (`COURIER_STOPPING`, see `recordCourierAssigned`; decision
 * 0089, "Fixed later"). A courier staff gave an order while offline is listed busy (0042 lets staff
 * give them more). The city is compared as
 * written: it is the directory's one spelling of the city (`findOrCreateCity`), the one couriers' rows
 * and the dispatch carry, and the one ordering's assign-courier checks a courier against.
 *
 * Runs as the caller (staff of the restaurant, or an admin) with the restaurant as the transaction's
 * tenant, and reads through `delivery.couriers_of_city` (delivery migration 0028), which refuses any
 * other transaction (42501) and masks the restaurant and order a courier carries or is held for unless
 * they are the tenant's: staff have no policy on the table itself. Never answers those either.
 *
 * @example
 * await unitOfWork({ service: 'delivery', tenantId: rid, actor, readOnly: true }, (tx) => listAssignableCouriers(tx, 'Porto', 200));
 */
export async function listAssignableCouriers(tx: Tx, city: string, limit: number): Promise<AssignableCouriers> {
  // One row more than the page: whether the city has more. A city's couriers are few (hundreds at
  // most), and the statement reads only that city's rows.
  const { rows } = await tx.query<AssignableCourier>(
    `select courier_id as "courierId", status,
            ${HELD} as held,
            held_until as "heldUntil",
            case when status = 'available' then available_since end as "availableSince"
       from delivery.couriers_of_city($1)
      where (status = 'available' or (status = 'busy' and not (released_status = 'offline' and asked_to_stop)))
      order by status = 'busy', ${HELD}, case when status = 'available' then available_since else updated_at end, courier_id
      limit $2`,
    [city, limit + 1],
  );
  return { couriers: rows.slice(0, limit).map((row) => ({ ...row, heldUntil: iso(row.heldUntil), availableSince: iso(row.availableSince) })), more: rows.length > limit };
}

const iso = (value: unknown): string | null => (value === null || value === undefined ? null : new Date(value as string).toISOString());
