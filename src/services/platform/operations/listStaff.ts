import type { Tx } from '../../../platform/db/index.ts';
import { STAFF_COLUMNS, type StaffMember } from './staffMember.ts';

/** The staff of a restaurant. RLS returns only rows of the transaction's own tenant. */
export async function listStaff(tx: Tx, restaurantId: string): Promise<StaffMember[]> {
  return (await tx.query<StaffMember>(`select ${STAFF_COLUMNS} from platform.staff where tenant_id = $1 order by name`, [restaurantId])).rows;
}
