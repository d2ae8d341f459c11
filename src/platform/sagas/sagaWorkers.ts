import type { ServiceDeps } from '../runtime/index.ts';
import { createDeadlineScheduler } from './createDeadlineScheduler.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';
import { createSagaRunner } from './createSagaRunner.ts';

/** Options of {@link sagaWorkers}. */
export interface SagaWorkersOptions {
  /** The service whose role the transactions take, e.g. `payments`. */
  readonly service: string;
  readonly registry: SagaRegistry;
  /** Runner lease; above the slowest step action. Default 30 000 ms. */
  readonly leaseMs?: number;
  /** Runner idle poll. Default 500 ms. */
  readonly pollMs?: number;
  /** Deadline scheduler poll. Default 1000 ms. */
  readonly deadlinePollMs?: number;
}

/**
 * The two long-running loops of a service's sagas, in the shape of `ServiceModule.workers`:
 * `saga-runner` (steps and compensations) and `saga-deadlines` (the deadline scheduler).
 *
 * @example
 * export const paymentsService: ServiceModule = { name: 'payments', workers: sagaWorkers({ service: 'payments', registry }) };
 */
export function sagaWorkers(options: SagaWorkersOptions): ReadonlyArray<{ readonly name: string; run(deps: ServiceDeps, signal: AbortSignal): Promise<void> }> {
  return [
    {
      name: 'saga-runner',
      run: (deps, signal) =>
        createSagaRunner({
          unitOfWork: deps.unitOfWork,
          service: options.service,
          registry: options.registry,
          ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
          ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
        }).run(signal),
    },
    {
      name: 'saga-deadlines',
      run: (deps, signal) =>
        createDeadlineScheduler({
          unitOfWork: deps.unitOfWork,
          service: options.service,
          registry: options.registry,
          ...(options.deadlinePollMs !== undefined ? { pollMs: options.deadlinePollMs } : {}),
        }).run(signal),
    },
  ];
}
