import { fileURLToPath } from 'node:url';
import { paymentProviderUrlOf } from '../../platform/config/index.ts';
import { warnEveryMinute, type ServiceDeps, type ServiceModule } from '../../platform/runtime/index.ts';
import { createSagaRegistry, sagaWorkers, type SagaRegistry, type SagaRegistryOptions } from '../../platform/sagas/index.ts';
import { tenantNotMoving } from '../../platform/tenancy/index.ts';
import { paymentMethodsOf } from './paymentMethodsOf.ts';
import type { PaymentsPorts } from './ports.ts';
import { createPaymentProviderClient } from './provider/index.ts';
import { paymentRoutes } from './routes.ts';
import { PAYMENT_ORDER_EVENTS_SUBSCRIPTION_SPEC, PAYMENT_SAGA, paymentSaga, runPaymentOrderEvents, type PaymentSagaOptions } from './saga/index.ts';

export type { CardsOnFile, OrderAccess, PaymentsPorts } from './ports.ts';
export type { PaymentView } from './paymentView.ts';
export { PaymentViewSchema, toPaymentView } from './paymentView.ts';
export { paymentMethodsOf, PaymentMethodMissingError, PaymentMethodUnavailableError } from './paymentMethodsOf.ts';

const migrationsDir = fileURLToPath(new URL('./migrations', import.meta.url));
const SCHEMA = 'payments';

/** Options of {@link createPaymentsService}. */
export interface PaymentsServiceOptions extends Partial<Pick<PaymentSagaOptions, 'courierFees' | 'commissionRate'>> {
  /** Competing saga runners in this process: provider calls of different orders overlap. Default 4. */
  readonly runners?: number;
  /** The saga runner's idle poll, ms. Default 500. */
  readonly runnerPollMs?: number;
  /** The deadline scheduler's poll, ms (a deadline fires at most this late). Default 1000. */
  readonly deadlinePollMs?: number;
}

/**
 * The registry payments runs its sagas with, in schema `payments`. Claims of saga work and deadline
 * firings run without a tenant, so they take the tenant fence's guard: they leave a moving restaurant's
 * sagas alone (decision 0008).
 */
export function paymentsSagaRegistry(sagas: SagaRegistryOptions['sagas']): SagaRegistry {
  return createSagaRegistry({ schema: SCHEMA, sagas, claimGuard: tenantNotMoving });
}

/**
 * The payments service: the payment saga of every order (charge on OrderPlaced, refund on reject,
 * cancel or no accept within ACCEPT_DEADLINE_MINUTES, capture and payouts on delivery), its state in
 * `payments.saga_*`, and `GET /v1/orders/:id/payment`. Workers: `order-events-consumer` (order events
 * start and advance sagas), `saga-runner-1` … `saga-runner-4` (steps and compensations, calling the
 * provider at PAYMENT_PROVIDER_URL, competing for due work) and `saga-deadlines`. Its ports (ordering's cancel and order access, the
 * platform's cards on file) are wired by the composition root.
 *
 * @example
 * createPaymentsService((deps) => ({ orders: orderCommands(deps, 'payments-saga'), cards: cardsOnFile(deps.unitOfWork), orderAccess: orderAccess(deps) }))
 */
export function createPaymentsService(ports: (deps: ServiceDeps) => PaymentsPorts, options: PaymentsServiceOptions = {}): ServiceModule {
  // One registry per deps object: the routes, the order-events consumer and the shared database's
  // workers share the process's deps, so one registry and provider client. A worker instance of a
  // dedicated database gets deps of its own (depsForDatabase), so each saga worker of each dedicated
  // database builds its own (5 per database with the default 4 runners); they hold no state that must be
  // shared (the provider client keeps no connections of its own).
  const registries = new WeakMap<ServiceDeps, SagaRegistry>();
  const registryOf = (deps: ServiceDeps): SagaRegistry => {
    let registry = registries.get(deps);
    if (registry === undefined) {
      const wired = ports(deps);
      const provider = createPaymentProviderClient({ baseUrl: paymentProviderUrlOf(deps.config), timeoutMs: deps.config.paymentProviderTimeoutMs });
      const saga = paymentSaga(
        { provider, orders: wired.orders, paymentMethods: paymentMethodsOf(wired.cards, deps.config.paymentDefaultCard) },
        {
          acceptWithinMs: deps.config.acceptDeadlineMinutes * 60_000,
          ...(options.courierFees === undefined ? {} : { courierFees: options.courierFees }),
          ...(options.commissionRate === undefined ? {} : { commissionRate: options.commissionRate }),
        },
      );
      registry = paymentsSagaRegistry([saga]);
      registries.set(deps, registry);
    }
    return registry;
  };
  return {
    name: 'payments',
    migrationsDir,
    sagaSchema: SCHEMA,
    // The names registryOf's registry holds (a unit test keeps the two equal).
    sagaTypes: [PAYMENT_SAGA],
    routes: paymentRoutes((deps) => ports(deps).orderAccess),
    subscriptions: [PAYMENT_ORDER_EVENTS_SUBSCRIPTION_SPEC],
    workers: [
      {
        name: 'order-events-consumer',
        run: (deps, signal) => runPaymentOrderEvents({ unitOfWork: deps.unitOfWork, registry: registryOf(deps), transport: deps.transport }, signal, { onError: warnEveryMinute('payments order events') }),
      },
      ...sagaWorkers({
        service: SCHEMA,
        registry: registryOf,
        runners: options.runners ?? 4,
        onError: warnEveryMinute('payments saga'),
        ...(options.runnerPollMs === undefined ? {} : { pollMs: options.runnerPollMs }),
        ...(options.deadlinePollMs === undefined ? {} : { deadlinePollMs: options.deadlinePollMs }),
      }),
    ],
  };
}
