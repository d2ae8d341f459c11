import { announceWork } from '../../../platform/runtime/index.ts';
import type { Tx } from '../../../platform/db/index.ts';

/** The key under which the dispatch queue's due orders are announced to idle dispatch workers (decision 0073). */
export const DISPATCH_WORK = 'delivery.dispatch';

/** Once `tx` commits, wakes an idle dispatch worker of this process: an order of the queue is due now. */
export function announceDispatch(tx: Tx): void {
  tx.afterCommit(() => announceWork(DISPATCH_WORK));
}
