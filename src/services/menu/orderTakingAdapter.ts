import type { UnitOfWorkContext } from '../../platform/db/index.ts';
import type { ServiceDeps } from '../../platform/runtime/index.ts';
import type { OrderPause } from './operations/orderPauseSql.ts';
import { readOrderPauses } from './operations/readOrderPauses.ts';
import type { RestaurantDirectory } from './ports.ts';

/** The reader of the pauses: anonymous, as the public menu's (menu's policies let it read every restaurant's). */
const READER: UnitOfWorkContext = { service: 'menu', tenantId: null, actor: { kind: 'public', id: 'anonymous' }, readOnly: true };

/**
 * The menu's in-process adapter for the platform service's `OrderTaking` port (decision 0094, "Fixed
 * later (forty-ninth session)"): whether restaurants take new orders now, for the directory's answers
 * (`GET /v1/restaurants`, `GET /v1/restaurants/{rid}`). The composition root wires it; the platform
 * never reads menu's tables.
 *
 * @example
 * createPlatformService((deps) => ({ …, orderTaking: orderTaking(deps, restaurantDirectory(deps.unitOfWork)) }))
 */
export function orderTaking({ unitOfWork, placements }: Pick<ServiceDeps, 'unitOfWork' | 'placements'>, directory: Pick<RestaurantDirectory, 'placedApart'>) {
  return {
    /**
     * The pauses in force now of restaurants `ids` (absent: it takes orders; a pause whose `until` has
     * passed is over), and the restaurants whose state could not be read (`unread`).
     *
     * The shared database's pauses in one statement, at the same time as the directory says which of
     * `ids` live apart (a move deletes a restaurant's rows from the shared database, so reading every id
     * there finds only those of the restaurants that live there); then each moved restaurant's in its own
     * database, bounded (`readEachTenant`): one that fails or does not answer in time is `unread`, so one
     * restaurant's outage leaves the others' answers whole. A failure of the shared database or of the
     * directory fails the call.
     */
    async pausesOf(ids: readonly string[]): Promise<{ readonly pauses: ReadonlyMap<string, OrderPause>; readonly unread: readonly string[] }> {
      if (ids.length === 0) return { pauses: new Map(), unread: [] };
      const [apart, shared] = await Promise.all([directory.placedApart(ids), unitOfWork(READER, (tx) => readOrderPauses(tx, ids))]);
      const moved = await placements.readEachTenant(READER, [...apart], (tx, rid) => readOrderPauses(tx, [rid]));
      return { pauses: new Map([...shared, ...moved.answers.flatMap((found) => [...found])]), unread: moved.missing };
    },
  };
}
