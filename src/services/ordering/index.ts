import { fileURLToPath } from 'node:url';
import { createOrderStore } from './orderStore.ts';
import { sleep, warnEveryMinute, type ServiceDeps, type ServiceModule } from '../../platform/runtime/index.ts';
import { pruneIdempotencyKeys } from './operations/pruneIdempotencyKeys.ts';
import type { OrderingPorts } from './ports.ts';
import { orderingRoutes } from './routes.ts';
import { createViewRoutes, createViewWorkers, orderViewProjections } from './views/index.ts';
import { DISPATCH_ALERTS_SUBSCRIPTION_SPEC, runDispatchAlertsConsumer } from './dispatchAlertsConsumer.ts';

export type { CourierLookup, CourierReservations, CustomerKeys, LineRequest, MenuCatalog, OrderingPorts, PickUpPlace, PricedLine, PricedLines, RestaurantLookup } from './ports.ts';
export type { DispatchAlert, OrderEvent, OrderEventData, OrderEventType, OrderLine, LineModifier, CancelledBy } from './domain/orderEvents.ts';
export { ORDER_EVENT_TYPES, orderStreamId } from './domain/orderEvents.ts';
export type { OrderState, OrderStatus } from './domain/orderState.ts';
export { foldOrder } from './domain/foldOrder.ts';
export { orderCommands } from './orderCommandsAdapter.ts';
export { DISPATCH_ALERTS_SUBSCRIPTION, DISPATCH_FAILED_SUBJECT, dispatchAlertsHandler, runDispatchAlertsConsumer } from './dispatchAlertsConsumer.ts';
export { orderAccess } from './orderAccessAdapter.ts';
export { openOrders } from './openOrdersAdapter.ts';
export { createOrderStore } from './orderStore.ts';
export type { OrderView } from './orderView.ts';

const migrationsDir = fileURLToPath(new URL('./migrations', import.meta.url));
const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

/**
 * The ordering service: order streams in the event store (schema `ordering`), the order index and
 * idempotency keys. Its ports (the menu's pricing, the restaurant and courier directories) are wired by the composition root.
 *
 * @example
 * createOrderingService((deps) => ({ menu: menuCatalog(deps.unitOfWork, restaurantDirectory(deps.unitOfWork)), restaurants: restaurantDirectory(deps.unitOfWork), couriers: courierDirectory(deps.unitOfWork), reservations: courierReservations({ unitOfWork: deps.unitOfWork, restaurants: restaurantDirectory(deps.unitOfWork) }) }))
 */
export function createOrderingService(ports: (deps: ServiceDeps) => OrderingPorts): ServiceModule {
  const store = createOrderStore();
  const views = orderViewProjections(store);
  return {
    name: 'ordering',
    migrationsDir,
    routes: async (app, options) => {
      const wired = ports(options.deps);
      await orderingRoutes(wired, store)(app, options);
      await app.register(createViewRoutes({ views, restaurants: wired.restaurants, couriers: wired.couriers, customerKeys: wired.customerKeys }), options);
    },
    subscriptions: [DISPATCH_ALERTS_SUBSCRIPTION_SPEC],
    workers: [
      // The courier task-list, customer order-history and restaurant live-board projectors.
      ...createViewWorkers(views.all),
      {
        // Delivery's DispatchFailed becomes DispatchAlertRaised on the order: the live-board shows it.
        name: 'dispatch-alerts-consumer',
        run: (deps, signal) => runDispatchAlertsConsumer(deps, signal, { onError: warnEveryMinute('ordering dispatch alerts', 'dispatch failures wait on the bus until it succeeds') }),
      },
      {
        // Idempotency keys are remembered for 24 h; this deletes older ones once an hour.
        name: 'idempotency-keys-pruner',
        // A moved restaurant's keys are in its own database.
        everyDatabase: true,
        async run(deps, signal) {
          const warn = warnEveryMinute('idempotency-keys pruner', 'expired keys stay until the next prune succeeds');
          while (!signal.aborted) {
            // A failed prune (the database restarting, say) is retried in a minute, not a reason to
            // take the process down: expired keys only wait longer.
            const pruned = await deps
              .unitOfWork({ service: 'ordering', actor: { kind: 'system', id: 'idempotency-keys-pruner' } }, (tx) => pruneIdempotencyKeys(tx))
              .then(() => true, (error: unknown) => (warn(error), false));
            // Ends at once on an abort, also one that came while the prune ran.
            await sleep(pruned ? HOUR_MS : MINUTE_MS, signal);
          }
        },
      },
    ],
  };
}
