import { sleep, waitForWork, warnEveryMinute, type ServiceDeps, type ServiceWorker } from '../../platform/runtime/index.ts';
import { dispatchOnce, type DispatchOptions } from './dispatchOnce.ts';
import { DISPATCH_WORK } from './operations/dispatchWork.ts';
import type { DeliveryPorts } from './ports.ts';

/** A background worker as ServiceModule.workers lists it. */
export type Worker = ServiceWorker;

/**
 * Runs dispatch steps until `signal` aborts, numbering them (`dispatchOnce`'s `turn`: due work and a
 * new order's claim take turns coming first): back to back while there is work, `idleMs` apart when
 * the queue has nothing due, unless this process makes an order due meanwhile (it wakes the loop).
 * Errors of a step (database unreachable) go to `onError` and the loop backs off a second; the
 * step's transaction rolled back, so nothing is lost.
 */
export async function runDispatchLoop(
  env: Parameters<typeof dispatchOnce>[0],
  signal: AbortSignal,
  options: DispatchOptions & { readonly onError?: (error: unknown) => void } = {},
): Promise<void> {
  // The step's number: a claim of a new order comes first on every other step (dispatchOnce).
  for (let turn = 0; !signal.aborted; turn++) {
    try {
      const step = await dispatchOnce(env, options, turn);
      // Idle: an order made due in this process wakes the loop at once (decision 0073); other processes' at the poll.
      if (step.outcome === 'idle') await waitForWork(DISPATCH_WORK, options.idleMs ?? 500, signal);
    } catch (error) {
      options.onError?.(error);
      await sleep(1000, signal);
    }
  }
}

/**
 * `count` competing dispatch workers (`dispatch-1` … `dispatch-<count>`) for ServiceModule.workers.
 * They share nothing but the queue: each step claims with SKIP LOCKED, so any number of them, in any
 * number of processes, never assign an order or a courier twice. A step's error goes to
 * `options.onError`, by default a process warning at most once a minute per worker.
 */
export function dispatchWorkers(
  count: number,
  ports: (deps: ServiceDeps) => DeliveryPorts,
  options: DispatchOptions & { readonly onError?: (error: unknown) => void } = {},
): Worker[] {
  return Array.from({ length: count }, (_, i) => ({
    name: `dispatch-${i + 1}`,
    run: (deps: ServiceDeps, signal: AbortSignal) =>
      runDispatchLoop({ unitOfWork: deps.unitOfWork, orders: ports(deps).orders }, signal, {
        onError: warnEveryMinute(`delivery dispatch-${i + 1}`, 'orders wait in the dispatch queue until it succeeds'),
        ...options,
      }),
  }));
}
