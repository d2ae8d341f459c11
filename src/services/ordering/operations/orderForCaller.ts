import type { Actor } from '../../../platform/db/index.ts';
import type { OrderView } from '../orderView.ts';

/**
 * An order as `caller` may read it (decision 0025, "Fixed later (fiftieth session …)"): a courier is
 * not told whose order it is, `customerId: null` (they deliver to the address, which stays); its
 * customer, the restaurant's staff and admins read the order whole.
 *
 * @example
 * reply.send(orderForCaller(await reveal(order), callerOf(request)));
 */
export function orderForCaller(order: OrderView, caller: Actor | null): OrderView {
  return caller?.kind === 'courier' ? { ...order, customerId: null } : order;
}
