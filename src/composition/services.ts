import type { MigrationSet } from '../platform/migrations/index.ts';
import { warnEveryMinute, type ServiceDeps, type ServiceModule } from '../platform/runtime/index.ts';
import { createRelay } from '../platform/outbox/index.ts';
import { waitForMovedMessages, type CommitStatementsFn, type UnitOfWorkFn } from '../platform/tenancy/index.ts';
import { ensureSubscriptions, runBusRetention, type SubscriptionSpec } from '../platform/messaging/index.ts';
import { courierDispatch, courierReservations, createDeliveryService } from '../services/delivery/index.ts';
import { createMenuService, orderTaking } from '../services/menu/index.ts';
import { menuCatalog } from '../services/menu/priceLinesAdapter.ts';
import { createOrderingService, openOrders, orderAccess, orderCommands } from '../services/ordering/index.ts';
import { createPaymentsService } from '../services/payments/index.ts';
import { cardsOnFile, courierDirectory, createPlatformService, customerKeys, restaurantDirectory, type CourierDispatch } from '../services/platform/index.ts';

// Ports: each service's needs of another, wired here (in-process adapters when they run together).
/**
 * Delivery's dispatch as the platform's `CourierDispatch` port: revoking a courier's tokens takes them off
 * dispatch (decision 0007), whether `POST /v1/admin/token-revocations` or `brigade token revoke` revokes,
 * and hands the orders they have not picked up back to dispatch through delivery's port to ordering, as
 * the dispatch's own (decision 0040): the platform never commands ordering itself.
 */
export function courierDispatchPort(deps: { readonly unitOfWork: UnitOfWorkFn; readonly commitStatements: CommitStatementsFn }): CourierDispatch {
  return courierDispatch({ unitOfWork: deps.unitOfWork, couriers: courierDirectory(deps.unitOfWork), orders: orderCommands(deps, 'delivery-dispatch') });
}

// Before erasing a customer, the platform asks ordering for their open orders (decision 0090); its
// directory asks the menu whether restaurants take new orders (decision 0094).
const platformService = createPlatformService((deps) => ({
  orders: openOrders(deps),
  dispatch: courierDispatchPort(deps),
  orderTaking: orderTaking(deps, restaurantDirectory(deps.unitOfWork)),
}));
const menuService = createMenuService((deps) => ({ directory: restaurantDirectory(deps.unitOfWork) }));
const orderingService = createOrderingService((deps) => {
  const restaurants = restaurantDirectory(deps.unitOfWork);
  // Staff's courier is reserved in delivery before ordering records the assignment (decision 0084).
  const reservations = courierReservations({ unitOfWork: deps.unitOfWork, restaurants });
  return { menu: menuCatalog(deps.unitOfWork, restaurants), restaurants, couriers: courierDirectory(deps.unitOfWork), reservations, customerKeys: customerKeys(deps.unitOfWork) };
});
const deliveryService = createDeliveryService((deps) => ({
  restaurants: restaurantDirectory(deps.unitOfWork),
  couriers: courierDirectory(deps.unitOfWork),
  orders: orderCommands(deps, 'delivery-dispatch'),
}));
const paymentsService = createPaymentsService((deps) => ({
  orders: orderCommands(deps, 'payments-saga'),
  cards: cardsOnFile(deps.unitOfWork),
  orderAccess: orderAccess(deps),
}));

/** Every service, in migration order: the platform first (it creates the others' schemas and roles). */
export const SERVICES: readonly ServiceModule[] = Object.freeze([platformService, menuService, orderingService, deliveryService, paymentsService]);

/** The service names, e.g. for `<SERVICE>_DATABASE_URL` and `brigade serve --service`. */
export const SERVICE_NAMES: readonly string[] = Object.freeze(SERVICES.map((s) => s.name));

/** The services whose tenant rows stay in the shared database when a tenant moves (`tenantRowsStayShared`): delivery. */
export const SHARED_SERVICE_NAMES: readonly string[] = Object.freeze(SERVICES.filter((s) => s.tenantRowsStayShared === true).map((s) => s.name));

/** The schemas whose tenant rows move with a tenant to its own database (`brigade tenants move`): every other service's. */
export const MOVING_SCHEMAS: readonly string[] = Object.freeze(SERVICE_NAMES.filter((name) => !SHARED_SERVICE_NAMES.includes(name)));

/**
 * Every service's durable subscriptions. A subscription gets only what is published after its creation
 * (decision 0015), so each relay creates all of them before it first publishes, also those of services
 * whose workers have not started anywhere yet (a `brigade serve` running before any `brigade worker`).
 */
export const DURABLE_SUBSCRIPTIONS: readonly SubscriptionSpec[] = Object.freeze(SERVICES.flatMap((service) => service.subscriptions ?? []));

/**
 * One outbox relay per service: every process runs them all, and the relay's leader lock keeps one
 * active per outbox (another takes over when it dies). It first creates {@link DURABLE_SUBSCRIPTIONS}.
 * A relay that cannot publish or reach its database keeps retrying and says so in the log at most
 * once a minute. The outbox of a service whose
 * tenant rows move has one relay per database (`everyDatabase`): a moved restaurant's messages are
 * written in its own database.
 */
export const RELAY_WORKERS = Object.freeze(
  SERVICE_NAMES.map((service) => ({
    service,
    name: 'outbox-relay',
    everyDatabase: !SHARED_SERVICE_NAMES.includes(service),
    keepsConnection: 'outbox relays (leader lock)',
    run: (deps: ServiceDeps, signal: AbortSignal) => {
      const where = deps.placement === undefined ? '' : ` in ${deps.placement}`;
      const warn = warnEveryMinute(`${service} outbox relay${where}`, 'messages wait in the outbox until it succeeds: see brigade_outbox_depth in /metrics');
      const dedicated = deps.dedicated;
      return createRelay({
        pool: deps.databases.poolFor(service),
        service,
        transport: deps.transport,
        registry: deps.metrics,
        // A dedicated database's relay reports under database="<label>"; the shared one's series are unchanged.
        database: deps.placement,
        retentionMs: deps.config.outboxRetentionMs,
        startAfter: async (signal) => {
          await ensureSubscriptions(deps.transport, DURABLE_SUBSCRIPTIONS, { signal, onError: warn });
          // A moved restaurant's new messages must not overtake the ones it left in the shared outbox.
          if (dedicated === undefined) return;
          await waitForMovedMessages({
            ...dedicated,
            schema: service,
            signal,
            onWaiting: () => process.emitWarning(`${service} outbox relay${where} waits until the shared relay has published the messages its restaurant wrote there before it moved`),
            onError: warn,
          });
        },
        onProgress: (event) => {
          if (event.kind === 'error') warn(event.error);
        },
      }).run(signal);
    },
  })),
);

/**
 * The platform's own background work, run with the platform service's workers. `bus-retention`
 * (decision 0068) deletes bus messages every subscription settled once past the dedupe window,
 * claim-checked payloads nobody needs any more, and JetStream failures rows no stream message will
 * settle (past the stream's max_age and an hour), from the platform database (where the transport's bus
 * is), every minute in bounded batches. Every process runs it; passes of several processes skip each
 * other's rows. A failed pass is retried a minute later and said in the log at most once a minute.
 */
export const PLATFORM_WORKERS = Object.freeze([
  {
    service: 'platform',
    name: 'bus-retention',
    run: (deps: ServiceDeps, signal: AbortSignal) => {
      const warn = warnEveryMinute('bus retention', 'settled bus messages, unneeded claim-check payloads and stale JetStream failures rows stay until a pass succeeds');
      return runBusRetention({
        pool: deps.databases.poolFor('platform'),
        messagesOlderThanMs: deps.config.messageDedupeWindowMs,
        claimCheckGraceMs: deps.config.claimCheckGraceMs,
        streamMaxAgeMs: deps.config.natsStreamMaxAgeMs,
        signal,
        onProgress: (event) => {
          if (event.kind === 'error') warn(event.error);
        },
      });
    },
  },
]);

/** The migration sets of the given services (all by default), in apply order. */
export function migrationSets(services: readonly ServiceModule[] = SERVICES): MigrationSet[] {
  return services.flatMap((s) => (s.migrationsDir === undefined ? [] : [{ name: s.name, dir: s.migrationsDir }]));
}
