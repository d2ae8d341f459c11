import type { ServiceDeps, ServiceWorker } from '../runtime/index.ts';
import { createDeadlineScheduler } from './createDeadlineScheduler.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';
import { createSagaRunner } from './createSagaRunner.ts';
import type { FiredDeadline } from './fireDueDeadlines.ts';

/** Options of {@link sagaWorkers}. */
export interface SagaWorkersOptions {
  /** The service whose role the transactions take, e.g. `payments`. */
  readonly service: string;
  /**
   * The service's saga types, or a function of the process's dependencies that builds them (when the
   * sagas' steps need ports wired from those dependencies). Called once per worker start.
   */
  readonly registry: SagaRegistry | ((deps: ServiceDeps) => SagaRegistry);
  /**
   * Competing runners in this process (`saga-runner`, or `saga-runner-1` … `saga-runner-<n>`). Each
   * claims with SKIP LOCKED and runs one step at a time; a step is mostly a network call, so more
   * runners overlap them. Default 1.
   */
  readonly runners?: number;
  /** Runner lease; above the slowest step action. Default 30 000 ms. */
  readonly leaseMs?: number;
  /** Runner idle poll. Default 500 ms. */
  readonly pollMs?: number;
  /** Deadline scheduler poll. Default 1000 ms. */
  readonly deadlinePollMs?: number;
  /** Receives the loops' own errors (database down); they go on after their poll interval. */
  readonly onError?: (error: unknown) => void;
  /**
   * Receives each deadline that could never be delivered (its handler threw, the saga has no handler
   * for it) and was marked fired with the error. Default: a process warning naming the saga.
   */
  readonly onDeadlineError?: (deadline: FiredDeadline) => void;
}

/** The default of {@link SagaWorkersOptions.onDeadlineError}: one warning per deadline (each is a saga left waiting for it). */
function warnDeadlineError(d: FiredDeadline): void {
  process.emitWarning(
    `saga-deadlines: deadline ${d.name} of saga ${d.sagaId} (tenant ${d.tenantId}) could not be delivered and is marked fired with the error: ${d.error ?? '?'}. ` +
      `The saga no longer waits for it: fix the saga's definition, then settle the saga ('brigade sagas show ${d.sagaId}')`,
  );
}

/**
 * The long-running loops of a service's sagas, in the shape of `ServiceModule.workers`: the runners
 * (`saga-runner`, or `saga-runner-1` … with `runners` > 1: steps and compensations) and
 * `saga-deadlines` (the deadline scheduler).
 *
 * @example
 * export const paymentsService: ServiceModule = { name: 'payments', workers: sagaWorkers({ service: 'payments', registry }) };
 */
export function sagaWorkers(options: SagaWorkersOptions): readonly ServiceWorker[] {
  const registryOf = (deps: ServiceDeps) => (typeof options.registry === 'function' ? options.registry(deps) : options.registry);
  const runners = options.runners ?? 1;
  return [
    ...Array.from({ length: runners }, (_, i) => ({
      name: runners === 1 ? 'saga-runner' : `saga-runner-${i + 1}`,
      // Sagas live with their tenant: the runners and the scheduler serve every database.
      everyDatabase: true,
      run: (deps: ServiceDeps, signal: AbortSignal) =>
        createSagaRunner({
          unitOfWork: deps.unitOfWork,
          service: options.service,
          registry: registryOf(deps),
          ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
          ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
          ...(options.onError !== undefined ? { onError: options.onError } : {}),
          // Each database's runners wait for announced steps in a group of their own.
          ...(deps.placement !== undefined ? { database: deps.placement } : {}),
        }).run(signal),
    })),
    {
      name: 'saga-deadlines',
      everyDatabase: true,
      run: (deps, signal) =>
        createDeadlineScheduler({
          unitOfWork: deps.unitOfWork,
          service: options.service,
          registry: registryOf(deps),
          ...(options.deadlinePollMs !== undefined ? { pollMs: options.deadlinePollMs } : {}),
          // Before, nothing heard of a deadline marked fired with an error.
          onFired: (d) => {
            if (d.error !== null) (options.onDeadlineError ?? warnDeadlineError)(d);
          },
          ...(options.onError !== undefined ? { onError: options.onError } : {}),
        }).run(signal),
    },
  ];
}
