import type { Tx } from '../../../platform/db/index.ts';

/**
 * Takes the restaurant's menu version row (`menu.menu_versions`) `FOR NO KEY UPDATE`, the lock the
 * history trigger's bump of it takes, creating the row for a restaurant that has none yet. Two
 * statements in one round trip: the insert waits for another transaction inserting the same row, and
 * the lock, a statement of its own under READ COMMITTED, then sees the row that one committed.
 *
 * Every menu write calls this first, before it touches any other row (decision 0021, "one lock
 * order"). The history trigger bumps that row on every change anyway, so a restaurant's writes
 * already took turns from their first change to their commit; taken first, the turn also covers the
 * locks each write takes afterwards. Before, a write locked its own row, then the version row
 * (trigger), then its parent (`requireLiveParent`, `requireCheapestOrderable`), while a write of
 * that parent locked the parent, then the version row: the opposite order, a deadlock (500) when
 * they met. Writes of different restaurants never wait for each other.
 */
export async function lockMenu(tx: Tx, tenantId: string): Promise<void> {
  await Promise.all([
    tx.query(`insert into menu.menu_versions (tenant_id) values ($1) on conflict (tenant_id) do nothing`, [tenantId]),
    tx.query(`select 1 from menu.menu_versions where tenant_id = $1 for no key update`, [tenantId]),
  ]);
}
