import type { Tx } from '../db/index.ts';
import { transitionSaga, type TransitionResult } from './transitionSaga.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';
import type { SagaEvent } from './types.ts';

/** Options of {@link advanceSaga}. */
export interface AdvanceSagaOptions {
  /**
   * The saga's tenant. Pass it whenever the caller knows it (a message's `headers.tenant`, the
   * request's tenant): the saga is then read through its primary key `(tenant_id, id)`. Without it the
   * saga is found by id alone (index `saga_instances_id`) in whichever tenant the transaction sees.
   */
  readonly tenantId?: string;
  /** Retries after a conflicting concurrent write before giving up with ConcurrencyError. Default 5. */
  readonly maxRetries?: number;
}

/**
 * Delivers an event to a saga in the caller's transaction (so it commits with the message or request
 * that carried it): the saga's handler decides, and state, new steps and deadlines are written under
 * optimistic concurrency, retried on a conflicting concurrent write (see transitionSaga).
 *
 * @returns `applied: false` when the saga has finished (a late event changes nothing).
 * @throws SagaNotFoundError (also when the saga belongs to another tenant than `tenantId`),
 *   SagaEventUnhandledError, ConcurrencyError (still conflicting after the retries).
 * @example
 * await unitOfWork(pool, { service: 'payments', tenantId, actor }, (tx) =>
 *   advanceSaga(tx, sagas, orderId, { type: 'restaurant.accepted' }, { tenantId }));
 */
export function advanceSaga<S = unknown>(tx: Tx, registry: SagaRegistry, sagaId: string, event: SagaEvent, options: AdvanceSagaOptions = {}): Promise<TransitionResult<S>> {
  return transitionSaga<S>(tx, registry, sagaId, { kind: 'event', event }, options);
}
