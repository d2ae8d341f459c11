import { setTimeout as sleep } from 'node:timers/promises';
import { tokenSubject, type Role } from '../../../platform/auth/index.ts';
import type { TenantRouter, UnitOfWorkFn } from '../../../platform/tenancy/index.ts';
import type { CourierDispatch } from '../ports.ts';
import { CourierStillOnDispatchError } from './errors.ts';
import { isKnownTokenSubject } from './isKnownTokenSubject.ts';
import { isStaffInAnyDatabase } from './isStaffInAnyDatabase.ts';
import { REVOCATION_COLUMNS, type TokenRevocation } from './tokenRevocation.ts';

/** What {@link revokeTokens} answers: the revocation, and for an admin what else it refuses. */
export interface RevokedTokens extends TokenRevocation {
  /**
   * An admin's revocation: a sentence saying that the tokens that admin minted (`POST /v1/tokens` with
   * their token, and the tokens minted with those), of any role, issued up to `revokedBefore`, are
   * refused too, and are to be minted again. Absent for another role: only admins mint.
   */
  readonly alsoRefused?: string;
  /**
   * A courier's revocation: a sentence saying that the courier was taken off dispatch (offline, or
   * offline after the order they carry, which it names with what to do about it), then which orders
   * they had not picked up went back to dispatch (or that handing them back failed, and to revoke
   * again); or that no courier of that id is registered. Absent for another role.
   */
  readonly takenOffDispatch?: string;
  /**
   * A customer's revocation: a sentence saying that the customer's password, if they have one, stays
   * (a revocation signs out everywhere, it resets nothing), so whoever knows it signs in again; to end
   * that too, remove it (`DELETE /v1/customers/{id}/password`). Absent for another role.
   */
  readonly passwordStays?: string;
  /**
   * Present only when the subject names nobody known ({@link isKnownTokenSubject}): no staff, courier
   * or customer row of the UUID, no admin audit entry by or minting the admin name. A staff member is
   * looked for in every database, a moved restaurant's too ({@link isStaffInAnyDatabase}); when one
   * of them does not answer, nobody can say, and this is absent. The revocation stands (a token may
   * name any subject); this says to check the spelling.
   */
  readonly unmatched?: string;
}

/** The longest {@link revokeTokens} waits for its second to end: more means another host's clock runs ahead (its revocation moved the time). */
const MAX_WAIT_MS = 1000;

/**
 * Revokes every token of `role` and `subject` issued up to now (decision 0007, "staff, courier and
 * admin tokens can be revoked"), as the admin `revokedBy` (an admin's transaction of the platform
 * service): from the commit on, the check on every request refuses them with 401 `TOKEN_REVOKED`.
 * Used by `POST /v1/admin/token-revocations` and `brigade token revoke`.
 *
 * The time is this process's clock, cut to the whole second, as a token's `iat` is, and a token
 * issued within that second is refused too: it may have been minted before the revocation. So that a
 * token minted once this returns is valid, it returns only when that second is over (at most a
 * second's wait, after the commit). A subject revoked before keeps one row, its time moved forward
 * (never back), its reason and revoker the latest.
 *
 * Revoking an admin also refuses every token minted through them (its chain of minters, the `act`
 * claim, names them) issued up to the same second, whatever its role: the answer says so in
 * `alsoRefused`.
 *
 * The answer says `unmatched` when the subject names nobody known. A staff member's row may be in a
 * dedicated database (their restaurant moved, decision 0008): one not in the platform's own is looked
 * for there after the commit (`findInEveryDatabase`, the tenant router's), and a database that does
 * not answer only drops the hint.
 *
 * Revoking a customer leaves their password (a revocation is "sign out everywhere", not a reset): the
 * answer says so in `passwordStays`, with the admin route that removes it.
 *
 * Revoking a courier also takes them off dispatch (`dispatch`, delivery's port), after the commit: a
 * courier who can no longer sign in would otherwise stay available, and be given orders nobody picks
 * up. After, not before: from the commit on the courier cannot press "Start taking deliveries" again,
 * so what the take-off leaves stays. Not in the revocation's transaction: delivery's tables are
 * delivery's, in another database when the services run apart. Then the orders assigned to the
 * courier that they have not picked up go back to dispatch at once (`dispatch.handBackOrders`, the
 * pick-up deadline's path: decision 0040, "Fixed later (forty-ninth session, 7 Dec 2026)"), since
 * they can no longer pick them up; the one they picked up stays theirs. A failure there leaves the
 * revocation and the take-off standing: the answer says so, and the pick-up deadline hands those
 * orders back later. The answer says what became of the courier and their orders (`takenOffDispatch`).
 *
 * @throws {ValidationError} 400, `details.field` `role` or `subject` (a UUID but for an admin).
 * @throws {CourierStillOnDispatchError} 503: a courier's revocation committed, but delivery could not
 *   take them off dispatch; revoking again does both.
 *
 * @example
 * const { validFrom } = await revokeTokens({ unitOfWork: deps.unitOfWork, findInEveryDatabase: deps.placements.findInEveryDatabase, dispatch }, 'ops', { role: 'staff', subject: staffId, reason: 'left' });
 */
export async function revokeTokens(
  deps: { readonly unitOfWork: UnitOfWorkFn; readonly findInEveryDatabase: TenantRouter['findInEveryDatabase']; readonly dispatch: CourierDispatch },
  revokedBy: string,
  request: { readonly role: Role; readonly subject: string; readonly reason?: string },
): Promise<RevokedTokens> {
  const { unitOfWork } = deps;
  const subject = tokenSubject(request.role, request.subject);
  const second = Math.floor(Date.now() / 1000);
  const { revocation, knownHere } = await unitOfWork({ service: 'platform', actor: { kind: 'admin', id: revokedBy } }, async (tx) => {
    const { rows } = await tx.query<TokenRevocation>(
      `insert into platform.token_revocations as r (role, subject, revoked_before, revoked_by, reason)
       values ($1, $2, to_timestamp($3), $4, $5)
       on conflict (role, subject) do update
         set revoked_before = greatest(r.revoked_before, excluded.revoked_before), revoked_by = excluded.revoked_by, reason = excluded.reason
       returning ${REVOCATION_COLUMNS}`,
      [request.role, subject, second, revokedBy, request.reason ?? null],
    );
    return { revocation: rows[0]!, knownHere: await isKnownTokenSubject(tx, request.role, subject) };
  });
  // A moved restaurant's staff rows are in its own database: look there before saying "no such row".
  const known = knownHere || revocation.role !== 'staff' ? knownHere : await isStaffInAnyDatabase(deps.findInEveryDatabase, revokedBy, subject);
  const takenOffDispatch = revocation.role === 'courier' ? await takeOffDispatch(deps.dispatch, revocation) : undefined;
  const wait = Date.parse(revocation.validFrom) - Date.now();
  if (wait > 0) await sleep(Math.min(wait, MAX_WAIT_MS));
  const answer = known !== false ? revocation : { ...revocation, unmatched: unmatchedSentence(revocation.role, revocation.subject) };
  if (takenOffDispatch !== undefined) return { ...answer, takenOffDispatch };
  if (revocation.role === 'customer') {
    return {
      ...answer,
      passwordStays:
        `Customer ${revocation.subject}'s password, if they have one, stays: whoever knows it signs in again. If someone else may know it (a copy of a token of a customer without a password ` +
        `sets one with it), also remove it: DELETE /v1/customers/${revocation.subject}/password, which refuses their tokens too; then mint them a token with which they set their own.`,
    };
  }
  if (revocation.role !== 'admin') return answer;
  return {
    ...answer,
    alsoRefused:
      `The tokens ${revocation.subject} minted with POST /v1/tokens, and the tokens minted with those, whatever their role, issued up to ${revocation.revokedBefore}, are refused too: ` +
      "mint again the ones still needed, with another admin's token. The admin audit log has each mint: route /v1/tokens, " +
      `with ${revocation.subject} in target.minted.mintChain.`,
  };
}

/**
 * Takes the revoked courier off dispatch, then hands the orders they have not picked up back to
 * dispatch; says what became of them (`RevokedTokens.takenOffDispatch`).
 */
async function takeOffDispatch(dispatch: CourierDispatch, revocation: TokenRevocation): Promise<string> {
  const courierId = revocation.subject;
  const off = await dispatch.takeOffDispatch(courierId).catch((error: unknown) => {
    throw new CourierStillOnDispatchError(revocation, error);
  });
  if (off === null) return `Courier ${courierId} is not registered (POST /v1/couriers), so there was no one to take off dispatch.`;
  const handedBack = await dispatch.handBackOrders(courierId).then(
    ({ handedBack }) => handedBack,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  const carried = off.status === 'busy' && off.currentOrderId !== null && !(Array.isArray(handedBack) && handedBack.includes(off.currentOrderId)) ? off.currentOrderId : null;
  return `${takenOffSentence(courierId, carried)} ${handedBackSentence(courierId, handedBack)}`.trim();
}

/** What became of the courier: off dispatch, after `orderId` (an order still theirs) or now. */
function takenOffSentence(courierId: string, orderId: string | null): string {
  if (orderId !== null) {
    return (
      `Courier ${courierId} was taken off dispatch after order ${orderId}, which they carry: the dispatch gives them no other order, staff's courier list leaves them out ` +
      `and assign-courier refuses them. With their tokens revoked they can neither pick it up nor deliver it: have staff give it to another courier ` +
      `(POST /v1/orders/${orderId}/assign-courier) if it is not picked up yet, or cancel it as an admin with a reason if it is.`
    );
  }
  return `Courier ${courierId} was taken off dispatch: offline, so the dispatch gives them no more orders and staff's courier list leaves them out.`;
}

/** What became of the orders the courier had not picked up (`handedBack`), or the error that kept them. */
function handedBackSentence(courierId: string, handedBack: readonly string[] | Error): string {
  if (handedBack instanceof Error) {
    return (
      `Handing the orders they have not picked up back to dispatch failed (${handedBack.message}): revoke again to retry; ` +
      `until then each goes back by itself at its pick-up deadline (PICKUP_DEADLINE_MINUTES), or staff give it to another courier (POST /v1/orders/{id}/assign-courier).`
    );
  }
  if (handedBack.length === 0) return '';
  const orders = handedBack.length === 1 ? `Order ${handedBack[0]}, which they had not picked up, went` : `Orders ${handedBack.join(', ')}, which they had not picked up, went`;
  return `${orders} back to dispatch at once (ordering took courier ${courierId} off: CourierUnassigned), for the dispatch or staff to give to another courier.`;
}

/** What `RevokedTokens.unmatched` says of a subject nobody is known by. */
function unmatchedSentence(role: Role, subject: string): string {
  const where =
    role === 'admin'
      ? `No admin request or mint by the name ${subject} is in the admin audit log (names are compared in lower case)`
      : `No ${role} has the id ${subject} (the platform has no such row)`;
  return `${where}: check the spelling against the token. The revocation stands anyway, since a token may name any subject (one minted with brigade token leaves no trace until it is used).`;
}
