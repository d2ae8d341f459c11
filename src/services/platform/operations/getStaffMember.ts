import type { Tx } from '../../../platform/db/index.ts';
import { STAFF_COLUMNS, type StaffMember } from './staffMember.ts';

/** One staff member, or null (missing, or another tenant's: indistinguishable). */
export async function getStaffMember(tx: Tx, restaurantId: string, id: string): Promise<StaffMember | null> {
  return (await tx.query<StaffMember>(`select ${STAFF_COLUMNS} from platform.staff where tenant_id = $1 and id = $2`, [restaurantId, id])).rows[0] ?? null;
}
