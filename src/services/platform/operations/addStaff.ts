import type { Principal } from '../../../platform/auth/index.ts';
import type { Tx } from '../../../platform/db/index.ts';
import { ForbiddenError, ValidationError } from '../../../platform/errors/index.ts';
import { mapPlatformError } from './errors.ts';
import { STAFF_COLUMNS, type StaffMember } from './staffMember.ts';

/** A staff member to add: `invitedBy`, when sent, must be the inviter's own staff id (see {@link addStaff}). */
export interface NewStaffMember {
  readonly restaurantId: string;
  readonly name: string;
  readonly email: string;
  readonly role?: 'manager' | 'staff';
  readonly invitedBy?: string;
}

/** 400 on `invitedBy`: one answer for any id that is not the caller's own, so it tells nothing of other tenants' staff. */
export class InvitedByNotCallerError extends ValidationError {
  constructor() {
    super(
      'invitedBy is taken from your token: omit invitedBy, or send your own staff id (the subject of your token, when it is a staff member of this restaurant); an admin sends none',
      { field: 'invitedBy' },
    );
  }
}

/**
 * Adds a staff member to the transaction's restaurant, invited by `inviter` (the caller's verified
 * principal: an admin, or a staff token of this restaurant). The inviter recorded is the caller: the
 * token's subject when it is a staff member of this restaurant (a row of `platform.staff`, read in
 * this transaction under its RLS), else null (an admin, or a staff token minted with a subject that
 * is no staff member, such as `brigade token`'s random one). Adding a `manager` needs an admin or a
 * caller who is a manager of this restaurant.
 *
 * @throws {ForbiddenError} 403: a `manager` asked for by a staff token whose subject is not one of this restaurant's managers.
 * @throws {InvitedByNotCallerError} 400 on `invitedBy`: it was sent and is not the inviter recorded.
 * @throws {AlreadyExistsError} 409 on `email`.
 *
 * @example
 * const member = await unitOfWork(actorContext(principal, 'platform', rid), (tx) => addStaff(tx, { restaurantId: rid, name, email }, principal));
 */
export async function addStaff(tx: Tx, input: NewStaffMember, inviter: Pick<Principal, 'role' | 'subject'>): Promise<StaffMember> {
  // A staff role is never changed after the row is written (the service's role may not update the
  // table, migration 0040), so the role read here is the one the insert below relies on. The database
  // holds the same rule on the insert: staff_add admits a manager only from a manager of the restaurant.
  const callerRole =
    inviter.role === 'staff'
      ? ((await tx.query<{ role: 'manager' | 'staff' }>(`select role from platform.staff where tenant_id = $1 and id = $2`, [input.restaurantId, inviter.subject])).rows[0]?.role ?? null)
      : null;
  const role = input.role ?? 'staff';
  if (role === 'manager' && inviter.role !== 'admin' && callerRole !== 'manager') {
    throw new ForbiddenError('Only a manager of this restaurant (a staff token whose subject is their staff id) or an admin may add a manager');
  }
  const invitedBy = callerRole === null ? null : inviter.subject;
  if (input.invitedBy !== undefined && input.invitedBy.toLowerCase() !== invitedBy) throw new InvitedByNotCallerError();
  try {
    const row = await tx.query<StaffMember>(
      `insert into platform.staff (tenant_id, name, email, role, invited_by) values ($1, $2, lower($3), $4, $5) returning ${STAFF_COLUMNS}`,
      [input.restaurantId, input.name, input.email, role, invitedBy],
    );
    return row.rows[0] as StaffMember;
  } catch (error) {
    // The inviter's row was read above; only a removal of it since (outside the API) fails this key.
    if ((error as { code?: string; constraint?: string }).constraint === 'staff_tenant_id_invited_by_fkey') throw new InvitedByNotCallerError();
    mapPlatformError(error, { unique: ['A staff member with this e-mail', 'email'] });
  }
}
