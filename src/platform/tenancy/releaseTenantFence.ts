import type pg from 'pg';
import { moveFenceKeys } from './tenantFence.ts';

/**
 * Lets go of the tenant's fence that `takeTenantFence` took on `session`: each of `keys` (SQL
 * expressions of `$1::uuid`, by default every one of {@link moveFenceKeys}), so the tenant's
 * transactions enter again. A key the session does not hold is only a warning of the server.
 */
export async function releaseTenantFence(session: pg.ClientBase, tenantId: string, keys: readonly string[] = moveFenceKeys('$1::uuid')): Promise<void> {
  if (keys.length === 0) return;
  await session.query(`select ${keys.map((k) => `pg_advisory_unlock(${k})`).join(', ')}`, [tenantId]);
}
