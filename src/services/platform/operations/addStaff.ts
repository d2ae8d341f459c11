import type { Tx } from '../../../platform/db/index.ts';
import { mapPlatformError } from './errors.ts';
import { STAFF_COLUMNS, type StaffMember } from './staffMember.ts';

/**
 * Adds a staff member to the transaction's restaurant. `invitedBy` must be staff of the same
 * restaurant: the composite foreign key makes another tenant's id fail exactly like a missing one.
 */
export async function addStaff(tx: Tx, input: { restaurantId: string; name: string; email: string; role?: 'manager' | 'staff'; invitedBy?: string | null }): Promise<StaffMember> {
  try {
    const row = await tx.query<StaffMember>(
      `insert into platform.staff (tenant_id, name, email, role, invited_by) values ($1, $2, lower($3), $4, $5) returning ${STAFF_COLUMNS}`,
      [input.restaurantId, input.name, input.email, input.role ?? 'staff', input.invitedBy ?? null],
    );
    return row.rows[0] as StaffMember;
  } catch (error) {
    mapPlatformError(error, { unique: ['A staff member with this e-mail', 'email'], reference: 'inviting staff member' });
  }
}
