import type { Tx } from '../../../platform/db/index.ts';
import { instantText } from './instantText.ts';
import type { OrderPause } from './orderPauseSql.ts';

/**
 * The pauses of new orders in force now (`until` unset, or later than the transaction's `now()`) of
 * restaurants `tenantIds`, by restaurant: one that takes orders (no pause, or one whose `until` has
 * passed) is absent. One statement by the table's key, for one restaurant (a placement) or a page of
 * the directory's.
 *
 * @example
 * const paused = await readOrderPauses(tx, ids); // paused.get(id) === undefined: it takes orders
 */
export async function readOrderPauses(tx: Tx, tenantIds: readonly string[]): Promise<ReadonlyMap<string, OrderPause>> {
  if (tenantIds.length === 0) return new Map();
  const { rows } = await tx.query<OrderPause & { tenantId: string }>(
    `select tenant_id as "tenantId", reason, ${instantText('until')} as until, ${instantText('paused_at')} as since
       from menu.order_pauses where tenant_id = any($1::uuid[]) and (until is null or until > now())`,
    [tenantIds],
  );
  return new Map(rows.map(({ tenantId, ...pause }) => [tenantId, pause]));
}
