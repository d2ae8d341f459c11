import type { Tx } from '../db/index.ts';
import { sagaTables } from './createSagaRegistry.ts';
import { statusBeforePark } from './applySagaEvent.ts';
import { lockSagaById } from './lockSagaById.ts';
import { SagaNotParkedError, SagaStepInFlightError } from './sagaErrors.ts';
import type { SagaStatus } from './types.ts';

/** What {@link resumeSaga} did. */
export interface ResumedSaga {
  readonly tenantId: string;
  readonly status: SagaStatus;
  /** The work that will run again, head first. */
  readonly pending: readonly string[];
  /** The reason it had been parked with. */
  readonly parkedWith: string | null;
}

/**
 * Resumes a saga that a handler parked for a person (decision 0079), once that person has settled
 * what made it stop: it goes back to the status it would have without the park ({@link statusBeforePark}:
 * `compensating` when it had failed, even with nothing left to undo, else `running`), with the error it had before the
 * park (why it failed, which a failed compensation's message builds on); its head work item runs
 * again at once with its attempts counted from zero, and the log records the resume with who did it
 * and the reason it had been parked with. What the saga took while parked (events and deadlines,
 * which a park leaves open) is in its state and pending work, so the resumed steps act on it. Needs
 * no saga definitions, so the CLI can do it; the service's runner picks the work up on its next poll.
 * Pass `tenantId` when tenants may share the id. A failed saga is not resumed (its head, the
 * compensation that failed for good, would run again under its key): once a person has done that
 * compensation by hand, {@link settleSagaCompensation} skips it and runs the rest.
 *
 * @returns `null` when no saga with this id is visible to the transaction's actor.
 * @throws SagaNotParkedError when the saga is not parked; SagaStepInFlightError while a runner's
 *   lease on its head item is live; SagaIdAmbiguousError when several tenants have a saga with this
 *   id and no tenant was given.
 * @example
 * await unitOfWork(pool, { service: 'payments', actor: { kind: 'admin', id: 'ops' } }, (tx) => resumeSaga(tx, 'payments', id, 'ops'));
 */
export async function resumeSaga(tx: Tx, schema: string, sagaId: string, by: string, options: { readonly tenantId?: string } = {}): Promise<ResumedSaga | null> {
  const saga = await lockSagaById(tx, schema, sagaId, options.tenantId);
  if (saga === null) return null;
  if (saga.status !== 'parked') throw new SagaNotParkedError(sagaId, saga.status, saga.pending);
  // A runner whose step is still in flight (an event parked the saga under it) would run it twice
  // with a second runner: the lease is left to end, and only an ended one is cleared below.
  if (saga.leasedUntil !== null) throw new SagaStepInFlightError(sagaId, 'resume', saga.pending[0], saga.leasedUntil, saga.leasedBy);
  const status: SagaStatus = statusBeforePark(saga);
  const table = sagaTables(schema);
  // The resume and its log entry in one statement.
  await tx.query(
    `with changed as (
       update ${table('saga_instances')}
          set status = $3, attempts = 0, error = error_before_park, error_before_park = null, run_after = now(), locked_by = null, locked_until = null,
              version = version + 1, updated_at = now()
        where tenant_id = $1 and id = $2
        returning tenant_id, id, version, status)
     insert into ${table('saga_log')} (tenant_id, saga_id, version, kind, item, attempt, status, data, error)
     select tenant_id, id, version, 'event', 'resumed', null, status, jsonb_build_object('by', $4::text, 'parkedWith', $5::text), null from changed`,
    [saga.tenantId, sagaId, status, by, saga.error],
  );
  return { tenantId: saga.tenantId, status, pending: saga.pending, parkedWith: saga.error };
}
