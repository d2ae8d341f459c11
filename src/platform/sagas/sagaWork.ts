import type { Tx } from '../db/index.ts';
import { announceWork } from '../runtime/workWakeups.ts';
import type { SagaRegistry } from './createSagaRegistry.ts';

/** The key under which the saga store in `schema` announces due steps to its idle runners (`announceWork`, decision 0073). */
export function sagaWorkKey(schema: string): string {
  return `saga:${schema}`;
}

/**
 * Once `tx` commits, wakes an idle runner of this process for `registry`'s store: a step is due now.
 * One per database the store's runners claim from (`SagaRunnerOptions.database`): `tx` does not say
 * which database it committed in.
 */
export function announceDueStep(tx: Tx, registry: SagaRegistry): void {
  tx.afterCommit(() => announceWork(sagaWorkKey(registry.schema)));
}
