import { SagaDefinitionError } from './sagaErrors.ts';
import { isStepTimeout, MAX_STEP_TIMEOUT_MS } from './stepTimeout.ts';
import type { SagaDefinition } from './types.ts';

const NAME = /^[a-z][a-z0-9_.-]{0,99}$/;
const STEP = /^[a-z][A-Za-z0-9_-]{0,99}$/;

/**
 * Declares a saga type; checks its names once, at definition.
 *
 * @example
 * const toy = defineSaga({
 *   name: 'toy', initialState: { done: [] as string[] },
 *   start: () => ({ run: ['reserve', 'charge'] }),
 *   steps: { reserve: { action: reserve, compensate: release }, charge: { action: charge } },
 *   on: { 'charge.succeeded': (s) => ({ complete: true }) },
 * });
 */
export function defineSaga<S, I = unknown>(definition: SagaDefinition<S, I>): SagaDefinition<S, I> {
  if (!NAME.test(definition.name)) throw new SagaDefinitionError(`Saga name ${JSON.stringify(definition.name)} must match ${NAME.source}`);
  for (const [step, spec] of Object.entries(definition.steps)) {
    if (!STEP.test(step)) throw new SagaDefinitionError(`Step name ${JSON.stringify(step)} of saga ${definition.name} must match ${STEP.source}`);
    if (spec.maxAttempts !== undefined && !(Number.isSafeInteger(spec.maxAttempts) && spec.maxAttempts >= 1)) {
      throw new SagaDefinitionError(`maxAttempts of step ${step} of saga ${definition.name} must be a whole number, 1 or more`);
    }
    if (spec.timeoutMs !== undefined && !isStepTimeout(spec.timeoutMs)) {
      throw new SagaDefinitionError(`timeoutMs of step ${step} of saga ${definition.name} must be a whole number of ms from 1 to ${MAX_STEP_TIMEOUT_MS}`);
    }
  }
  return Object.freeze({ ...definition });
}
