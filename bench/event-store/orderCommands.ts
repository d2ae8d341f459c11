/**
 * The event-store benchmark's `order commands` mode: an order's life driven through the ordering
 * service's own command functions, as its HTTP routes call them, instead of bare appends.
 *
 *   0 place          placeOrder: the customer's key looked up in every database (a read-only
 *                    transaction), the customer's data key read in a platform transaction of its own
 *                    (the address is sealed under it, decision 0090), then ONE unit of work of two round trips (BEGIN, settings, fence, the
 *                    idempotency-key claim, the order-index insert and the append with its outbox row as
 *                    one batch; COMMIT), decision 0087
 *   1 accept         runOrderCommand as staff: the stream read (a read-only transaction in one round
 *                    trip, `readStreamAndCommit`), `decide`, then
 *   2 ready          the append with its outbox row as one `appendAndCommit` round trip
 *   3 assign-courier the same, with the order index's courier update in the append's transaction
 *                    (`extra: [indexCourier(…)]`)
 *   4 pick-up        the same as the assigned courier: the read goes through the courier's row-level
 *                    security (the orders the order index names them in)
 *
 * Five commands, not the bare modes' four appends: the domain refuses a pick-up before `ready`, a step
 * the bare lifecycle (Placed, Accepted, CourierAssigned, PickedUp) skips. Each command appends one event,
 * so a command here is an append there.
 *
 * Left out, as they are other services' or the HTTP layer's work: the menu's pricing (a fixed in-process
 * catalog answers; in the product the menu prices the lines in a read transaction of its own), the
 * delivery service's courier reservation before an assignment (decision 0084), and the route's look-up
 * of the order's restaurant (`orderContext`) and the token check.
 */
import { randomUUID } from 'node:crypto';
import type { EventStore } from '../../src/platform/events/index.ts';
import type { TenantRouter } from '../../src/platform/tenancy/index.ts';
import type { OrderCommand } from '../../src/services/ordering/domain/orderCommands.ts';
import { requestLineage } from '../../src/services/ordering/operations/lineage.ts';
import { placeOrder } from '../../src/services/ordering/operations/placeOrder.ts';
import { runOrderCommand } from '../../src/services/ordering/operations/runOrderCommand.ts';
import type { MenuCatalog } from '../../src/services/ordering/ports.ts';
import { orderCommands } from '../../src/services/ordering/index.ts';
import { customerKeys } from '../../src/services/platform/index.ts';

/** Commands per order in this mode. */
export const ORDER_COMMAND_STEPS = 5;

const MARGHERITA = randomUUID();
const COLA = randomUUID();

/** The menu as a fixed catalog: two items, in EUR (the product asks the menu service). */
const MENU: MenuCatalog = {
  priceLines: (_restaurantId, lines) =>
    Promise.resolve({
      pricedAt: new Date().toISOString(),
      lines: lines.map((line) => ({
        itemId: line.itemId,
        itemVersion: line.itemId === MARGHERITA ? 3 : 1,
        name: line.itemId === MARGHERITA ? 'Margherita' : 'Cola',
        unitPrice: line.itemId === MARGHERITA ? 950 : 300,
        currency: 'EUR',
        modifiers: [],
      })),
    }),
};

/**
 * A driver of order commands for writers of `restaurants[w]` (one restaurant, one customer, one staff
 * member and one courier per writer). `step(w, order, step)` runs command `step` of the order the
 * benchmark calls `order` (its own id; the placed order's id is the one placeOrder chose).
 */
export function orderCommandDriver(router: TenantRouter, store: EventStore, restaurants: readonly string[]) {
  const people = restaurants.map(() => ({ customer: randomUUID(), staff: randomUUID(), courier: randomUUID() }));
  /** The benchmark's order id → the order id placeOrder chose, until the order's last command. */
  const placed = new Map<string, string>();
  const env = { commitStatements: router.commitStatements, store };
  const keys = customerKeys(router.unitOfWork);
  const { cancelOrder } = orderCommands(env, 'customer-erasure');
  return async (w: number, order: string, step: number): Promise<void> => {
    const restaurantId = restaurants[w]!;
    const { customer, staff, courier } = people[w]!;
    const lineage = requestLineage(randomUUID());
    if (step === 0) {
      const { order: view } = await placeOrder(
        {
          unitOfWork: router.unitOfWork,
          findInEveryDatabase: (context, fn, lookup) => router.findInEveryDatabase(context, fn, lookup),
          placementOf: (tenantId) => router.placementOf(tenantId),
          store,
          menu: MENU,
          customerKeys: keys,
          cancelOrder,
        },
        {
          customerId: customer,
          key: randomUUID(),
          body: { restaurantId, deliveryAddress: 'Main St 1, Ghent', lines: [{ itemId: MARGHERITA, quantity: 2 }, { itemId: COLA, quantity: 1 }] },
          lineage,
        },
      );
      placed.set(order, view.id);
      return;
    }
    const orderId = placed.get(order);
    if (orderId === undefined) throw new Error(`order ${order} was not placed (its place command failed)`);
    const byStaff = { kind: 'staff' as const, id: staff };
    const byCourier = { kind: 'courier' as const, id: courier };
    const commands: Record<number, OrderCommand> = {
      1: { type: 'accept', by: byStaff, etaMinutes: 25 },
      2: { type: 'ready', by: byStaff },
      3: { type: 'assign-courier', by: byStaff, courierId: courier },
      4: { type: 'pick-up', by: byCourier },
    };
    const command = commands[step];
    if (command === undefined) throw new Error(`no order command at step ${step}`);
    await runOrderCommand(env, { context: { service: 'ordering', tenantId: restaurantId, actor: command.by }, orderId, expectedVersion: step, command, lineage });
    if (step === ORDER_COMMAND_STEPS - 1) placed.delete(order);
  };
}
