/**
 * SQL over a `delivery.courier_availability` row (its columns unqualified): whether staff hold the
 * courier now for an order they are reassigning to them (`holdCourier`, decision 0084), so that the
 * dispatch's claim skips them. Read with the write that changes the courier (`returning … as held`),
 * so a hold committed before that write's lock is seen.
 */
export const HELD_NOW = 'coalesce(held_until > now(), false)';

/**
 * Whether a courier is free for the dispatch: available, and not held by staff ({@link HELD_NOW}).
 * Only a change that makes a courier free may wake a waiting order of their city (`wakeOneInCity`):
 * a wake the claim cannot serve makes the order find no courier and spend an attempt, or uses up a
 * dead order's one revival. The rule of the courier's "available" (`setAvailability`'s `becameFree`),
 * of a release from an order (`releaseCourier`) and of a hold's end (`clearCourierHold`).
 */
export function freeForDispatch(courier: { readonly status: string; readonly held: boolean }): boolean {
  return courier.status === 'available' && !courier.held;
}
