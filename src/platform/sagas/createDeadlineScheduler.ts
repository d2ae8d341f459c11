import type { UnitOfWorkFn } from '../tenancy/index.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';
import { fireDueDeadlines, type FiredDeadline } from './fireDueDeadlines.ts';
import { sleep } from '../runtime/sleep.ts';

/** Options of {@link createDeadlineScheduler}. */
export interface DeadlineSchedulerOptions {
  readonly unitOfWork: UnitOfWorkFn;
  /** The service whose role the transactions take. */
  readonly service: string;
  readonly registry: SagaRegistry;
  /** How often it looks for due deadlines. Default 1000 ms: a deadline fires at most this late. */
  readonly pollMs?: number;
  /** Deadlines per transaction. Default 100. */
  readonly batchSize?: number;
  /** Receives each deadline fired (logs, metrics). */
  readonly onFired?: (deadline: FiredDeadline) => void;
  /** Receives errors of the loop itself; it goes on after pollMs. */
  readonly onError?: (error: unknown) => void;
}

/** A deadline scheduler. Holds no state of its own: stopping it and starting another loses nothing. */
export interface DeadlineScheduler {
  /** Fires every deadline due now (batch after batch); returns how many fired. */
  fireDue(): Promise<number>;
  /** Fires due deadlines every pollMs until `signal` aborts. */
  run(signal: AbortSignal): Promise<void>;
}

/**
 * The deadline scheduler. Deadlines are rows, so they survive restarts: whichever scheduler runs
 * next, in this process or another, fires those that came due meanwhile, each exactly once.
 *
 * @example
 * const scheduler = createDeadlineScheduler({ unitOfWork: deps.unitOfWork, service: 'payments', registry });
 * await scheduler.run(signal);
 */
export function createDeadlineScheduler(options: DeadlineSchedulerOptions): DeadlineScheduler {
  const batchSize = options.batchSize ?? 100;
  const fireDue = async (): Promise<number> => {
    let total = 0;
    for (;;) {
      const fired = await options.unitOfWork({ service: options.service, actor: { kind: 'system', id: 'saga-deadlines' } }, (tx) => fireDueDeadlines(tx, options.registry, batchSize));
      for (const d of fired) options.onFired?.(d);
      total += fired.length;
      if (fired.length < batchSize) return total;
    }
  };
  return {
    fireDue,
    run: async (signal) => {
      while (!signal.aborted) {
        try {
          await fireDue();
        } catch (error) {
          options.onError?.(error);
        }
        await sleep(options.pollMs ?? 1000, signal);
      }
    },
  };
}
