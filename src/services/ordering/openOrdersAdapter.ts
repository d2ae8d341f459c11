import type { ServiceDeps } from '../../platform/runtime/index.ts';
import { findOpenOrders } from './operations/findOpenOrders.ts';

/** The actor the look-up runs as: it reads every tenant's order index and customer view. */
const ERASURE = { kind: 'system', id: 'customer-erasure' } as const;

/**
 * The in-process adapter the platform service asks before it erases a customer (decision 0090): the
 * customer's orders that are not finished yet, in every database (a moved restaurant's orders are in
 * its own). Up to 20 ids, oldest first, from the first database that has any; an empty list when none
 * has. A dedicated database that does not answer fails the look-up (503) rather than pass for one
 * without open orders.
 *
 * @example
 * const open = await openOrders(deps).openOrdersOf(customerId);
 */
export function openOrders({ placements }: Pick<ServiceDeps, 'placements'>): { openOrdersOf(customerId: string): Promise<readonly string[]> } {
  return {
    async openOrdersOf(customerId) {
      const found = await placements.findInEveryDatabase({ service: 'ordering', actor: ERASURE, readOnly: true }, async (tx) => {
        const ids = await findOpenOrders(tx, customerId);
        return ids.length === 0 ? null : ids;
      });
      return found ?? [];
    },
  };
}
