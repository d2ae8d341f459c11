import type { Tx } from '../../../platform/db/index.ts';
import { bumpMenuVersion } from './bumpMenuVersion.ts';

/**
 * Resumes restaurant `tenantId`'s new orders (decision 0094): its pause, if any, goes (also one whose
 * `until` has passed). Takes the menu's lock and gives the menu a new version ({@link bumpMenuVersion}),
 * as every menu write does, so the menu's ETag changes with the state it shows. Resuming a restaurant
 * that takes orders changes nothing but the version. Returns whether there was a pause row.
 */
export async function resumeOrders(tx: Tx, tenantId: string): Promise<boolean> {
  await bumpMenuVersion(tx, tenantId);
  const { rowCount } = await tx.query(`delete from menu.order_pauses where tenant_id = $1`, [tenantId]);
  return (rowCount ?? 0) > 0;
}
