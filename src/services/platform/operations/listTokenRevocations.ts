import type { Tx } from '../../../platform/db/index.ts';
import { REVOCATION_COLUMNS, type TokenRevocation } from './tokenRevocation.ts';

/** The token revocations, newest first, at most `limit` (an admin's transaction: the revocations' `admin_all` policy). */
export async function listTokenRevocations(tx: Tx, limit: number): Promise<TokenRevocation[]> {
  return (await tx.query<TokenRevocation>(`select ${REVOCATION_COLUMNS} from platform.token_revocations order by revoked_before desc, role, subject limit $1`, [limit])).rows;
}
