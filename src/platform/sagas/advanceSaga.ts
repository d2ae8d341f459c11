import type { Tx } from '../db/index.ts';
import { transitionSaga, type TransitionResult } from './transitionSaga.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';
import type { SagaEvent } from './types.ts';

/**
 * Delivers an event to a saga in the caller's transaction (so it commits with the message or request
 * that carried it): the saga's handler decides, and state, new steps and deadlines are written under
 * optimistic concurrency, retried on a conflicting concurrent write (see transitionSaga).
 *
 * @returns `applied: false` when the saga has finished (a late event changes nothing).
 * @throws SagaNotFoundError, SagaEventUnhandledError, ConcurrencyError (still conflicting after the retries).
 * @example
 * await unitOfWork(pool, { service: 'payments', tenantId, actor }, (tx) =>
 *   advanceSaga(tx, sagas, orderId, { type: 'restaurant.accepted' }));
 */
export function advanceSaga<S = unknown>(tx: Tx, registry: SagaRegistry, sagaId: string, event: SagaEvent, options: { maxRetries?: number } = {}): Promise<TransitionResult<S>> {
  return transitionSaga<S>(tx, registry, sagaId, { kind: 'event', event }, options);
}
