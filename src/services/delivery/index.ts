import { fileURLToPath } from 'node:url';
import { runInboxRetention } from '../../platform/messaging/index.ts';
import { warnEveryMinute, type ServiceDeps, type ServiceModule } from '../../platform/runtime/index.ts';
import type { DispatchOptions } from './dispatchOnce.ts';
import { dispatchWorkers } from './dispatchWorkers.ts';
import { ORDER_EVENTS_SUBSCRIPTION_SPEC, runOrderEventsConsumer, type OrderEventsOptions } from './orderEventsConsumer.ts';
import type { DeliveryPorts } from './ports.ts';
import { deliveryRoutes } from './routes.ts';

export type { CommandCause, CourierDirectory, DeliveryPorts, OrderCommands, RestaurantDirectory } from './ports.ts';
export type { DispatchEnv, DispatchOptions, DispatchStep } from './dispatchOnce.ts';
export { dispatchOnce } from './dispatchOnce.ts';
export { dispatchWorkers, runDispatchLoop } from './dispatchWorkers.ts';
export { ORDER_EVENTS_SUBSCRIPTION, orderEventsHandler, runOrderEventsConsumer } from './orderEventsConsumer.ts';
export type { OrderEventsOptions } from './orderEventsConsumer.ts';
export { courierReservations } from './courierReservationsAdapter.ts';
export { courierDispatch } from './courierDispatchAdapter.ts';

const migrationsDir = fileURLToPath(new URL('./migrations', import.meta.url));
const INBOX_RETENTION = { kind: 'system', id: 'delivery-inbox-retention' } as const;

/** Options of {@link createDeliveryService}. */
export interface DeliveryServiceOptions extends DispatchOptions, OrderEventsOptions {
  /** Competing dispatch workers in this process. Default 2. */
  readonly dispatchWorkers?: number;
}

/**
 * The delivery service: courier availability, the dispatch queue fed by order events, and the
 * competing dispatch workers that assign couriers. Its ports (restaurant and courier directories,
 * ordering's assign-courier command) are wired by the composition root.
 *
 * @example
 * createDeliveryService((deps) => ({ restaurants, couriers, orders }), { dispatchWorkers: 4 })
 */
export function createDeliveryService(ports: (deps: ServiceDeps) => DeliveryPorts, options: DeliveryServiceOptions = {}): ServiceModule {
  return {
    name: 'delivery',
    migrationsDir,
    // A dispatch claims a restaurant's job and a courier, who serves every restaurant, in one
    // transaction: delivery's rows of a restaurant stay in the shared database when it moves.
    tenantRowsStayShared: true,
    routes: async (app, routeOptions) => deliveryRoutes(ports(routeOptions.deps))(app, routeOptions),
    subscriptions: [ORDER_EVENTS_SUBSCRIPTION_SPEC],
    workers: [
      ...dispatchWorkers(options.dispatchWorkers ?? 2, ports, options),
      {
        name: 'order-events-consumer',
        run: (deps, signal) =>
          runOrderEventsConsumer({ unitOfWork: deps.unitOfWork, restaurants: ports(deps).restaurants, transport: deps.transport }, signal, {
            onError: warnEveryMinute('delivery order events', 'order events wait on the bus until it succeeds'),
            ...options,
            // PICKUP_DEADLINE_MINUTES, unless the service was given its own (tests).
            pickupWithinMs: options.pickupWithinMs ?? deps.config.pickupDeadlineMinutes * 60_000,
          }),
      },
      {
        // Claims of handled order events are deleted after INBOX_RETENTION_MS (decision 0092).
        name: 'inbox-retention',
        run: (deps, signal) => {
          const warn = warnEveryMinute('delivery inbox retention', 'handled order events keep their inbox claims until a pass succeeds');
          return runInboxRetention({
            schema: 'delivery',
            transaction: (fn) => deps.unitOfWork({ service: 'delivery', actor: INBOX_RETENTION }, fn),
            olderThanMs: deps.config.inboxRetentionMs,
            onProgress: (event) => {
              if (event.kind === 'error') warn(event.error);
            },
            signal,
          });
        },
      },
    ],
  };
}

