import type { Tx } from '../../../platform/db/index.ts';

/** A staff hold of a courier (`holdCourier`) whose lease has ended, claimed for the dispatch's sweep to settle. */
export interface DueHold {
  readonly courierId: string;
  /** The restaurant (tenant) of the order the courier is held for. */
  readonly tenantId: string;
  /** The order the courier is held for: staff reassigned it to them, and its CourierAssigned has not been applied. */
  readonly orderId: string;
  /**
   * The hold's new `held_until` as this claim set it (PostgreSQL's text, to the microsecond): ending
   * the hold compares it ({@link clearCourierHold}'s `leasedUntil`), so that a hold renewed meanwhile
   * (staff reassigned an order to the courier again) is left alone.
   */
  readonly leasedUntil: string;
}

/**
 * Claims the staff hold whose lease ended longest ago and leases it for `leaseMs` more (`held_until`
 * moved on): the caller commits, asks ordering which courier the held order has (`orderCourier`, a
 * read), and ends the hold ({@link clearCourierHold} with `leasedUntil`) unless it is this courier. If
 * it is (ordering recorded the reassignment, its CourierAssigned is late), nothing more is written:
 * the lease taken here keeps the courier held until the event ends the hold or the next settling; if
 * ordering cannot be asked, the same (the side that never gives the courier a second order). Competing
 * workers skip a claimed hold. The courier stays held throughout: a claim of an order never sees them
 * free in between. Run as the system actor.
 *
 * The look-up uses the partial index `courier_availability_held` (delivery migration 0020): every
 * dispatch step with no notice due runs it, and finds nothing almost always.
 */
export async function claimDueHold(tx: Tx, leaseMs: number): Promise<DueHold | null> {
  const { rows } = await tx.query<{ courier_id: string; held_tenant_id: string; held_order_id: string; leased_until: string }>(
    `update delivery.courier_availability a set held_until = now() + make_interval(secs => $1::double precision / 1000)
      where a.courier_id = (
        select courier_id from delivery.courier_availability
         where held_until <= now()
         order by held_until limit 1 for update skip locked)
      returning a.courier_id, a.held_tenant_id, a.held_order_id, a.held_until::text as leased_until`,
    [leaseMs],
  );
  const row = rows[0];
  return row === undefined ? null : { courierId: row.courier_id, tenantId: row.held_tenant_id, orderId: row.held_order_id, leasedUntil: row.leased_until };
}
