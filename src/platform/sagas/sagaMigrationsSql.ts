import { sagaActorWritesSql } from './sagaActorWritesSql.ts';
import { sagaFailedStepsSql } from './sagaFailedStepsSql.ts';
import { sagaIdIndexSql } from './sagaIdIndexSql.ts';
import { sagaLogSchemaSql } from './sagaLogSchemaSql.ts';
import { sagaParkedSql } from './sagaParkedSql.ts';
import { sagaRunnableByTypeIndexSql } from './sagaRunnableByTypeIndexSql.ts';
import { sagaRunnableIndexSql } from './sagaRunnableIndexSql.ts';
import { sagaSchemaSql, type SagaSchemaOptions } from './sagaSchemaSql.ts';
import { sagaUnfinishedIndexSql } from './sagaUnfinishedIndexSql.ts';

/**
 * Every migration of a schema's saga store, in order: what a service that runs sagas puts in its
 * migrations folder, one file each (the payments service: 0002_sagas, 0010_saga_log, 0012_saga_id_index, 0014_saga_parked,
 * 0015_saga_unfinished_parked, 0017_saga_runnable_claimable, 0018_saga_actor_writes, 0022_saga_failed_steps,
 * 0023_saga_runnable_by_type).
 *
 * @example
 * const [store, log, idIndex, parked, unfinished, runnable, actorWrites, failedSteps, runnableByType] = sagaMigrationsSql({ schema: 'payments', role: 'brigade_payments' });
 */
export function sagaMigrationsSql(options: SagaSchemaOptions): string[] {
  return [sagaSchemaSql(options), sagaLogSchemaSql(options), sagaIdIndexSql(options), sagaParkedSql(options), sagaUnfinishedIndexSql(options), sagaRunnableIndexSql(options), sagaActorWritesSql(options), sagaFailedStepsSql(options), sagaRunnableByTypeIndexSql(options)];
}
