import type { Tx } from '../../../platform/db/index.ts';
import { mapPlatformError } from './errors.ts';

/** A restaurant's staff member. */
export interface StaffMember {
  id: string;
  restaurantId: string;
  name: string;
  email: string;
  role: 'manager' | 'staff';
  invitedBy: string | null;
  createdAt: string;
}

const COLUMNS = `id, tenant_id as "restaurantId", name, email, role, invited_by as "invitedBy", created_at as "createdAt"`;

/**
 * Adds a staff member to the transaction's restaurant. `invitedBy` must be staff of the same
 * restaurant: the composite foreign key makes another tenant's id fail exactly like a missing one.
 */
export async function addStaff(tx: Tx, input: { restaurantId: string; name: string; email: string; role?: 'manager' | 'staff'; invitedBy?: string | null }): Promise<StaffMember> {
  try {
    const row = await tx.query<StaffMember>(
      `insert into platform.staff (tenant_id, name, email, role, invited_by) values ($1, $2, lower($3), $4, $5) returning ${COLUMNS}`,
      [input.restaurantId, input.name, input.email, input.role ?? 'staff', input.invitedBy ?? null],
    );
    return row.rows[0] as StaffMember;
  } catch (error) {
    mapPlatformError(error, { unique: ['A staff member with this e-mail', 'email'], reference: 'inviting staff member' });
  }
}

/** The staff of a restaurant. RLS returns only rows of the transaction's own tenant. */
export async function listStaff(tx: Tx, restaurantId: string): Promise<StaffMember[]> {
  return (await tx.query<StaffMember>(`select ${COLUMNS} from platform.staff where tenant_id = $1 order by name`, [restaurantId])).rows;
}

/** One staff member, or null (missing, or another tenant's: indistinguishable). */
export async function getStaffMember(tx: Tx, restaurantId: string, id: string): Promise<StaffMember | null> {
  return (await tx.query<StaffMember>(`select ${COLUMNS} from platform.staff where tenant_id = $1 and id = $2`, [restaurantId, id])).rows[0] ?? null;
}
