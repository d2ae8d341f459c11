/**
 * SQL over a `delivery.courier_availability` row (its columns unqualified): whether staff hold the
 * courier for an order they are reassigning to them (`holdCourier`, decision 0084), so that the
 * dispatch's claim skips them. A hold stands until ordering's CourierAssigned for that order ends it
 * (`clearCourierHold`) or the dispatch's sweep settles it with ordering (`claimDueHold`): `held_until`
 * is when the sweep is due to ask, not when the hold lapses (a hold that lapsed by the clock freed a
 * courier ordering had on the order while their event was late). Read with the write that changes
 * the courier (`returning … as held`), so a hold committed before that write's lock is seen.
 */
export const HELD = '(held_until is not null)';

/**
 * Whether a courier is free for the dispatch: available, and not held by staff ({@link HELD}).
 * Only a change that makes a courier free may wake a waiting order of their city (`wakeOneInCity`):
 * a wake the claim cannot serve makes the order find no courier and spend an attempt, or uses up a
 * dead order's one revival. The rule of the courier's "available" (`setAvailability`'s `becameFree`),
 * of a release from an order (`releaseCourier`) and of a hold's end (`clearCourierHold`).
 */
export function freeForDispatch(courier: { readonly status: string; readonly held: boolean }): boolean {
  return courier.status === 'available' && !courier.held;
}
