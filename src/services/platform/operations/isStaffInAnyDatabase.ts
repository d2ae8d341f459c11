import type { TenantRouter } from '../../../platform/tenancy/index.ts';
import { isKnownTokenSubject } from './isKnownTokenSubject.ts';

/**
 * Whether `staffId` is a staff member's row in any database: the platform's own or a dedicated one,
 * where a restaurant's `platform.staff` rows went when it moved (decision 0008). Asks each through
 * `findInEveryDatabase`, in a read-only transaction of the admin `admin` (the table's `admin_all`
 * policy), as `isKnownTokenSubject` asks one. With nothing moved that is one transaction.
 *
 * `null` when it cannot be said: the staff member was found in none of the databases that answered,
 * and one did not answer, failed, or could not be listed (the placement catalog). A caller that only
 * gives a hint with the answer (`revokeTokens`' `unmatched`) then gives none; it never fails for it.
 *
 * @example
 * const known = await isStaffInAnyDatabase(deps.placements.findInEveryDatabase, 'ops', staffId); // true, false or null
 */
export async function isStaffInAnyDatabase(findInEveryDatabase: TenantRouter['findInEveryDatabase'], admin: string, staffId: string): Promise<boolean | null> {
  try {
    const found = await findInEveryDatabase({ service: 'platform', actor: { kind: 'admin', id: admin }, readOnly: true }, async (tx) =>
      (await isKnownTokenSubject(tx, 'staff', staffId)) ? true : null,
    );
    return found ?? false;
  } catch {
    // DATABASE_UNAVAILABLE (a dedicated database or the catalog left out), or the own database failing:
    // the look-up's databases went to the router's onDatabaseTrouble; here it only means "unknown".
    return null;
  }
}
